/**
 * Registers every supported ONNX operator (each file calls defineOp for its operators).
 * Import this module once before running a graph.
 */
import './elementwise.js';
import './reduce.js';
import './logic.js';
import './shape.js';
import './nn.js';
import './resize.js';
