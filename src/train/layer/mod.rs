//! Layers: one per file, each with its forward pass, backward pass and parameters.
