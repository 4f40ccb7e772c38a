/**
 * The data sets Bastion knows by name: where they come from, which files they consist of, and the
 * checksums those files must have. Papers 000-004 evaluate on MNIST, Fashion-MNIST, Animal Faces
 * (AFHQ) and CIFAR-10; KMNIST is a drop-in MNIST replacement.
 *
 * Checksums: `md5` is the value the publisher (or torchvision, for KMNIST) gives for the file as
 * downloaded. `sha256` was computed on this project's machines from copies whose MD5 matched the
 * published one. `contentSha256` is the SHA-256 of a gzip file's decompressed payload, which lets
 * `bastion data verify` accept a copy that was recompressed (e.g. by a Linux distribution) but holds
 * the same bytes.
 */

/** A file a data set consists of, with its download locations and checksums. */
export interface CatalogFile {
  /** File name inside the data set's folder. */
  name: string;
  /** Download URLs, tried in order (mirrors). Empty when the file cannot be downloaded automatically. */
  urls: readonly string[];
  md5?: string;
  sha256?: string;
  /** Size in bytes of the file as published. */
  size?: number;
  /** SHA-256 of the decompressed content (gzip files). */
  contentSha256?: string;
  /** Other known-good copies (e.g. a distribution's repackaging): their checksums and where they come from. */
  alternates?: readonly { md5?: string; sha256?: string; note: string }[];
}

/** A data set known by name. */
export interface CatalogEntry {
  name: string;
  /** Other names accepted on the command line. */
  aliases: readonly string[];
  title: string;
  kind: 'idx' | 'cifar10' | 'folder';
  /** Splits the set has (image folders may have others). */
  splits: readonly string[];
  /** Class names in label order (image folders: from the folder names). */
  classNames?: readonly string[];
  /** Folder names to look for inside a data root (the first is where downloads go). */
  folderNames: readonly string[];
  /** Places a system package puts the set. */
  systemPaths: readonly string[];
  /** The files of the set, for download and verification. */
  files: readonly CatalogFile[];
  /** Instructions for sets that cannot be downloaded automatically. */
  manual?: string;
  homepage: string;
  license: string;
}

const MNIST_PRIMARY = 'https://ossci-datasets.s3.amazonaws.com/mnist/';
const MNIST_FALLBACK = 'http://yann.lecun.com/exdb/mnist/';
const FASHION = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';
const KMNIST_PRIMARY = 'https://codh.rois.ac.jp/kmnist/dataset/kmnist/';
const KMNIST_FALLBACK = 'http://codh.rois.ac.jp/kmnist/dataset/kmnist/';

const DEBIAN_FASHION = "Debian's dataset-fashion-mnist copy (same data, recompressed without the stored file name)";

/** Every data set Bastion knows by name. */
export const CATALOG: readonly CatalogEntry[] = [
  {
    name: 'mnist',
    aliases: ['MNIST'],
    title: 'MNIST handwritten digits (60,000 train / 10,000 test, 28x28 gray)',
    kind: 'idx',
    splits: ['train', 'test'],
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    folderNames: ['mnist', 'MNIST', 'MNIST/raw'],
    systemPaths: ['/usr/share/datasets/mnist'],
    homepage: 'http://yann.lecun.com/exdb/mnist/',
    license: 'CC BY-SA 3.0 (Yann LeCun, Corinna Cortes, Christopher J.C. Burges)',
    files: [
      { name: 'train-images-idx3-ubyte.gz', urls: [MNIST_PRIMARY + 'train-images-idx3-ubyte.gz', MNIST_FALLBACK + 'train-images-idx3-ubyte.gz'],
        md5: 'f68b3c2dcbeaaa9fbdd348bbdeb94873', sha256: '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609', size: 9912422,
        contentSha256: 'ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db' },
      { name: 'train-labels-idx1-ubyte.gz', urls: [MNIST_PRIMARY + 'train-labels-idx1-ubyte.gz', MNIST_FALLBACK + 'train-labels-idx1-ubyte.gz'],
        md5: 'd53e105ee54ea40749a09fcbcd1e9432', sha256: '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c', size: 28881,
        contentSha256: '65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5' },
      { name: 't10k-images-idx3-ubyte.gz', urls: [MNIST_PRIMARY + 't10k-images-idx3-ubyte.gz', MNIST_FALLBACK + 't10k-images-idx3-ubyte.gz'],
        md5: '9fb629c4189551a2d022fa330f9573f3', sha256: '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6', size: 1648877,
        contentSha256: '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7' },
      { name: 't10k-labels-idx1-ubyte.gz', urls: [MNIST_PRIMARY + 't10k-labels-idx1-ubyte.gz', MNIST_FALLBACK + 't10k-labels-idx1-ubyte.gz'],
        md5: 'ec29112dd5afa0611ce80d1b7f02629c', sha256: 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6', size: 4542,
        contentSha256: 'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2' },
    ],
  },
  {
    name: 'fashion-mnist',
    aliases: ['fashion_mnist', 'fashionmnist', 'fmnist', 'FashionMNIST'],
    title: 'Fashion-MNIST Zalando articles (60,000 train / 10,000 test, 28x28 gray)',
    kind: 'idx',
    splits: ['train', 'test'],
    classNames: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
    folderNames: ['fashion-mnist', 'fashion_mnist', 'FashionMNIST', 'FashionMNIST/raw'],
    systemPaths: ['/usr/share/datasets/fashion-mnist'],
    homepage: 'https://github.com/zalandoresearch/fashion-mnist',
    license: 'MIT (Zalando SE)',
    // Published MD5s (Fashion-MNIST README). contentSha256 and the alternates were computed from
    // Debian's copy, whose gzip headers differ from the published files (no stored file name).
    files: [
      { name: 'train-images-idx3-ubyte.gz', urls: [FASHION + 'train-images-idx3-ubyte.gz'], md5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
        contentSha256: 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
        alternates: [{ md5: 'cf8536b0aa1a6ac5fa3f23001093305c', sha256: 'b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7', note: DEBIAN_FASHION }] },
      { name: 'train-labels-idx1-ubyte.gz', urls: [FASHION + 'train-labels-idx1-ubyte.gz'], md5: '25c81989df183df01b3e8a0aad5dffbe',
        contentSha256: 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
        alternates: [{ md5: '10bea18fdb374794d4bb42e356e600c9', sha256: '0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056', note: DEBIAN_FASHION }] },
      { name: 't10k-images-idx3-ubyte.gz', urls: [FASHION + 't10k-images-idx3-ubyte.gz'], md5: 'bef4ecab320f06d8554ea6380940ec79',
        contentSha256: '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
        alternates: [{ md5: 'f78720b4224f21cce2f2ccf2d7a94c9a', sha256: 'cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa', note: DEBIAN_FASHION }] },
      { name: 't10k-labels-idx1-ubyte.gz', urls: [FASHION + 't10k-labels-idx1-ubyte.gz'], md5: 'bb300cfdad3c16e7a12a480ee83cd310',
        contentSha256: '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
        alternates: [{ md5: '0d30e22e447f3c33dab9ed536400ac01', sha256: '8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05', note: DEBIAN_FASHION }] },
    ],
  },
  {
    name: 'kmnist',
    aliases: ['KMNIST', 'kuzushiji-mnist'],
    title: 'Kuzushiji-MNIST cursive Japanese (60,000 train / 10,000 test, 28x28 gray)',
    kind: 'idx',
    splits: ['train', 'test'],
    classNames: ['o', 'ki', 'su', 'tsu', 'na', 'ha', 'ma', 'ya', 're', 'wo'],
    folderNames: ['kmnist', 'KMNIST', 'KMNIST/raw'],
    systemPaths: ['/usr/share/datasets/kmnist'],
    homepage: 'https://github.com/rois-codh/kmnist',
    license: 'CC BY-SA 4.0 (ROIS-DS Center for Open Data in the Humanities)',
    // MD5s as torchvision's KMNIST resources list them.
    files: [
      { name: 'train-images-idx3-ubyte.gz', urls: [KMNIST_PRIMARY + 'train-images-idx3-ubyte.gz', KMNIST_FALLBACK + 'train-images-idx3-ubyte.gz'], md5: 'bdb82020997e1d708af4cf47b453dcf7' },
      { name: 'train-labels-idx1-ubyte.gz', urls: [KMNIST_PRIMARY + 'train-labels-idx1-ubyte.gz', KMNIST_FALLBACK + 'train-labels-idx1-ubyte.gz'], md5: 'e144d726b3acfaa3e44228e80efcd344' },
      { name: 't10k-images-idx3-ubyte.gz', urls: [KMNIST_PRIMARY + 't10k-images-idx3-ubyte.gz', KMNIST_FALLBACK + 't10k-images-idx3-ubyte.gz'], md5: '5c965bf0a639b31b8f53240b1b52f4d7' },
      { name: 't10k-labels-idx1-ubyte.gz', urls: [KMNIST_PRIMARY + 't10k-labels-idx1-ubyte.gz', KMNIST_FALLBACK + 't10k-labels-idx1-ubyte.gz'], md5: '7320c461ea6c1c855c0b718fb2a4b134' },
    ],
  },
  {
    name: 'cifar10',
    aliases: ['cifar-10', 'CIFAR10', 'CIFAR-10'],
    title: 'CIFAR-10 tiny photos (50,000 train / 10,000 test, 32x32 RGB)',
    kind: 'cifar10',
    splits: ['train', 'test'],
    classNames: ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'],
    folderNames: ['cifar10', 'cifar-10', 'CIFAR10', 'cifar-10-batches-bin'],
    systemPaths: ['/usr/share/datasets/cifar10', '/usr/share/datasets/cifar-10'],
    homepage: 'https://www.cs.toronto.edu/~kriz/cifar.html',
    license: 'free for research use (Alex Krizhevsky, 2009)',
    files: [
      { name: 'cifar-10-binary.tar.gz', urls: ['https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz'], md5: 'c32a1d4ab5d03f1284b67883e8d87530' },
    ],
  },
  {
    name: 'afhq',
    aliases: ['animal-faces', 'animal_faces', 'AFHQ'],
    title: 'Animal Faces-HQ (cat / dog / wild, about 16,000 512x512 photos; train/ and val/)',
    kind: 'folder',
    splits: ['train', 'val'],
    classNames: ['cat', 'dog', 'wild'],
    folderNames: ['afhq', 'animal-faces', 'animal_faces', 'AFHQ'],
    systemPaths: ['/usr/share/datasets/afhq'],
    homepage: 'https://www.kaggle.com/datasets/andrewmvd/animal-faces',
    license: 'CC BY-NC 4.0 (Choi, Uh, Yoo, Ha; NAVER Corp.)',
    files: [],
    manual:
      'AFHQ needs a Kaggle login, so Bastion cannot download it. Sign in at https://www.kaggle.com/datasets/andrewmvd/animal-faces, ' +
      'press Download (archive.zip), and unzip it into your data folder so that DATA/afhq/train/{cat,dog,wild} and ' +
      'DATA/afhq/val/{cat,dog,wild} exist (DATA: --data-dir, or $BASTION_DATA, or ~/.local/share/bastion/data). ' +
      'With the Kaggle CLI: `kaggle datasets download -d andrewmvd/animal-faces && unzip animal-faces.zip -d DATA`. ' +
      'Then `bastion data list` shows it as found.',
  },
  {
    name: 'afhq-sample',
    aliases: ['afhq_sample'],
    title: 'AFHQ sample: the 41 example photos the StarGAN v2 authors publish (15 cat, 11 dog, 15 wild; no splits)',
    kind: 'folder',
    splits: ['all'],
    classNames: ['cat', 'dog', 'wild'],
    folderNames: ['afhq-sample'],
    systemPaths: [],
    homepage: 'https://github.com/clovaai/stargan-v2',
    license: 'CC BY-NC 4.0 (Choi, Uh, Yoo, Ha; NAVER Corp.)',
    files: [],
    manual: 'The sample ships with the project in shared/data/afhq-sample beside the checkout; it is too small to train on.',
  },
];

/** The catalog entry for a name or alias (case-insensitive), or undefined. */
export function catalogEntry(name: string): CatalogEntry | undefined {
  const wanted = name.toLowerCase();
  return CATALOG.find((e) => e.name === wanted || e.aliases.some((a) => a.toLowerCase() === wanted));
}
