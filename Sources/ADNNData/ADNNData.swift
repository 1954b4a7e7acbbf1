// ADNNData — the data pipeline of `adnn` (no dependency on the tensor library).
//
// Overview for users of the module:
// - Image I/O: `loadImage(_:)`, `decodeImage(_:name:)`, `savePNG`, `saveJPEG`, `encodePNG`,
//   `encodeJPEG` over `PixelImage` (8-bit, channels-last, gray or RGB). JPEG via libjpeg-turbo,
//   PNG via libpng; corrupt files throw `DataError` naming the file.
// - Colour and contrast: `PixelImage.toGray()`, `.toRGB()`, `.rgbToLab()`, `.labToRGB()`
//   (OpenCV 8-bit), `CLAHE().apply(to:)` (OpenCV `createCLAHE(2.0, (8, 8))`), `.resized(...)`
//   (PyTorch `F.interpolate` semantics, antialiased when shrinking), `.cropped(...)`.
// - Datasets: `Dataset.load(path, options:)` detects FER2013 CSV, FERPlus, RAF-DB, AffectNet
//   (npy or CSV lists), class folders, or builds the `synthetic` set; `Dataset.classes` are
//   canonical names in the dataset's order; `splits`, `skipped`, `dropped`, `verify()`.
// - Tensors: `TransformConfig` (size, channels, CLAHE, mean/std), `AugmentConfig` (SPEC §2
//   augment keys), `DataLoader` (threads, prefetch, seeded determinism, class balancing,
//   decode-once cache) yielding `Batch` (`images` [N, H, W, C], `labels`, `mixLabels`,
//   `mixLambda`, `softTargets`, `dominantLabels`).
