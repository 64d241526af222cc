/// ConvNet: convolutional neural networks trained from scratch on the CPU, every layer working
/// on a whole NCHW mini-batch at once.
///
/// The element-type protocol `KernelScalar` (Float, Double) and the kernels come from the
/// `ConvNetKernels` module, re-exported here so that `import ConvNet` is enough.
@_exported import ConvNetKernels
