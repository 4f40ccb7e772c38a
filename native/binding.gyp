{
  "targets": [
    {
      "target_name": "bastion_native",
      "sources": [
        "src/addon.cc",
        "src/allocator.cc",
        "src/convert.cc",
        "src/creation.cc",
        "src/math.cc",
        "src/shape.cc",
        "src/nn.cc",
        "src/autograd.cc",
        "src/runtime.cc",
        "src/jit.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/torch-config.cjs include)"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        # A worker thread terminated inside an op (the dashboard's attack time limit) cannot take a
        # JavaScript exception any more; without this, node-addon-api's rethrow aborts the process.
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
        "<!@(node scripts/torch-config.cjs defines)"
      ],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
      "libraries": ["<!@(node scripts/torch-config.cjs libs)"]
    }
  ]
}
