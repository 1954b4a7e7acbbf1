/// Data pipeline of `adnn`: image decoding/encoding, dataset readers, transforms, loader.
public enum ADNNData {}
