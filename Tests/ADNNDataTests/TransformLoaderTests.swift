import XCTest
@testable import ADNNData

final class TransformLoaderTests: XCTestCase {
    // MARK: resize against PyTorch / PIL references

    func testBicubicUpscaleMatchesPyTorch() throws {
        let fer0 = mosaicTile(try fixtureImage("fer_inputs.png"), 0, side: 48, perRow: 8)
        let ours = fer0.resized(width: 112, height: 112, mode: .bicubic)
        let a = agreement(ours, try fixtureImage("resize_fer_bicubic112.png"), tolerance: 1)
        print("bicubic 48→112 vs torch: \(a.fraction * 100)% within ±1, max diff \(a.maxDiff)")
        XCTAssertEqual(a.fraction, 1.0)
        let b = agreement(fer0.resized(width: 112, height: 112, mode: .bilinear), try fixtureImage("resize_fer_bilinear112.png"))
        print("bilinear 48→112 vs torch: max diff \(b.maxDiff)")
        XCTAssertEqual(b.fraction, 1.0)
    }

    func testAntialiasedDownscaleMatchesPyTorchAndPIL() throws {
        let photo = try fixtureImage("photo.png")
        let bic = photo.resized(width: 100, height: 56, mode: .bicubic)
        let a = agreement(bic, try fixtureImage("resize_photo_bicubic_aa.png"))
        print("bicubic antialias 224×126→100×56 vs torch: max diff \(a.maxDiff)")
        XCTAssertEqual(a.fraction, 1.0)
        let p = agreement(bic, try fixtureImage("resize_photo_pil_bicubic.png"))
        print("bicubic antialias vs PIL BICUBIC: \(p.fraction * 100)% within ±1, max diff \(p.maxDiff)")
        XCTAssertGreaterThanOrEqual(p.fraction, 0.99)
        let lin = agreement(photo.resized(width: 100, height: 56, mode: .bilinear), try fixtureImage("resize_photo_bilinear_aa.png"))
        XCTAssertEqual(lin.fraction, 1.0)
    }

    // MARK: rendering

    func testEvalRenderingNormalises() throws {
        let img = PixelImage(width: 4, height: 4, channels: 1, fill: 255)
        let t = TransformConfig(size: 4, channels: 3, mean: [0.5, 0.5, 0.5], std: [0.25, 0.5, 0.5])
        let out = t.tensorData(for: img)
        XCTAssertEqual(out.count, 48)
        XCTAssertEqual(out[0], 2, accuracy: 1e-5); XCTAssertEqual(out[1], 1, accuracy: 1e-5)
        let g = TransformConfig(size: 2, channels: 1, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5]).tensorData(for: img.toRGB())
        for v in g { XCTAssertEqual(v, 1, accuracy: 1e-5) }
    }

    func testFlipOnlyAugmentationMirrors() throws {
        var img = PixelImage(width: 8, height: 8, channels: 1)
        for i in 0..<64 { img.pixels[i] = UInt8(i * 3) }
        let t = TransformConfig(size: 8, channels: 1, mean: [0], std: [1])
        var aug = AugmentConfig.none
        aug.hflip = 1
        let r = SampleRenderer(transform: t, augment: aug)
        var out = [Float](repeating: 0, count: 64), rng = DataRNG(seed: 1)
        img.pixels.withUnsafeBufferPointer { p in out.withUnsafeMutableBufferPointer { o in
            r.render(p.baseAddress!, width: 8, height: 8, channels: 1, into: o.baseAddress!, rng: &rng) } }
        let expected = img.flippedHorizontally().pixels.map { Float($0) / 255 }
        for i in 0..<64 { XCTAssertEqual(out[i], expected[i], accuracy: 1e-6) }
    }

    func testFullAugmentationStaysFiniteAndVaries() throws {
        let ds = try Dataset.load("synthetic:train=28,val=0,test=0,size=48")
        let t = TransformConfig(size: 64, channels: 3, clahe: true)
        var aug = AugmentConfig()
        (aug.crop, aug.rotate, aug.colorJitter, aug.noise, aug.cutout, aug.mixup) = (1, 1, 1, 1, 1, 1)
        let loader = try DataLoader(dataset: ds, split: "train", transform: t, augment: aug,
                                    options: LoaderOptions(batchSize: 8, workers: 2, seed: 7))
        let batch = Array(loader.batches(epoch: 0))[0]
        XCTAssertEqual(batch.shape, [8, 64, 64, 3])
        XCTAssertTrue(batch.images.allSatisfy { $0.isFinite })
        XCTAssertTrue(batch.isMixed)
        XCTAssertEqual(batch.mixLabels, batch.labels.reversed())
        let soft = batch.softTargets
        for i in 0..<8 { XCTAssertEqual(soft[(i * 7)..<(i * 7 + 7)].reduce(0, +), 1, accuracy: 1e-5) }
        XCTAssertEqual(batch.dominantLabels, batch.mixLambda >= 0.5 ? batch.labels : batch.mixLabels)
        let plain = try loader.renderSample(batch.indices[0])
        XCTAssertNotEqual(Array(batch.images[0..<plain.count]), plain)
    }

    // MARK: loader

    func testLoaderIsDeterministicAcrossWorkerCounts() throws {
        let ds = try Dataset.load("synthetic:train=50,val=0,test=0,size=32")
        let t = TransformConfig(size: 40, channels: 1, mean: [0.5], std: [0.5])
        var aug = AugmentConfig()
        aug.mixup = 0.5
        func run(_ workers: Int, _ epoch: Int, cache: CachePolicy) throws -> [Batch] {
            let l = try DataLoader(dataset: ds, split: "train", transform: t, augment: aug,
                                   options: LoaderOptions(batchSize: 16, workers: workers, prefetch: 2, seed: 11, cache: cache))
            return Array(l.batches(epoch: epoch))
        }
        let a = try run(1, 0, cache: .never), b = try run(2, 0, cache: .always), c = try run(2, 1, cache: .always)
        XCTAssertEqual(a.count, 4)
        XCTAssertEqual(a.map(\.count), [16, 16, 16, 2])
        for (x, y) in zip(a, b) {
            XCTAssertEqual(x.images, y.images); XCTAssertEqual(x.labels, y.labels)
            XCTAssertEqual(x.mixLambda, y.mixLambda); XCTAssertEqual(x.indices, y.indices)
        }
        XCTAssertNotEqual(a[0].indices, c[0].indices)
        XCTAssertEqual(Set(a.flatMap(\.indices)), Set(0..<50))                  // a permutation of the split
    }

    func testBalancedSamplingAndDropLast() throws {
        let ds = try Dataset.load("synthetic:train=700,val=0,test=0,size=16")
        // Keep only 7 samples of class 0 and all others: class 0 is rare.
        ds.removeSamples(split: "train") { i in i % 7 == 0 && i >= 49 }
        let t = TransformConfig(size: 16, channels: 1, mean: [0], std: [1])
        let l = try DataLoader(dataset: ds, split: "train", transform: t, augment: nil,
                               options: LoaderOptions(batchSize: 64, dropLast: true, balanced: true, seed: 3))
        XCTAssertEqual(l.classCounts[0], 7)
        let order = l.order(epoch: 0)
        var counts = [Int](repeating: 0, count: 7)
        for i in order { counts[l.labels[i]] += 1 }
        XCTAssertTrue(counts.allSatisfy { $0 > order.count / 7 / 2 }, "\(counts)")
        XCTAssertEqual(l.batchesPerEpoch, l.count / 64)
        XCTAssertEqual(Array(l.batches(epoch: 0)).count, l.count / 64)
    }

    func testEarlyStopDoesNotHang() throws {
        let ds = try Dataset.load("synthetic:train=200,val=0,test=0,size=16")
        let l = try DataLoader(dataset: ds, split: "train", transform: TransformConfig(size: 16, channels: 1), augment: nil,
                               options: LoaderOptions(batchSize: 4, workers: 2, prefetch: 2))
        var seen = 0
        for _ in l.batches(epoch: 0) { seen += 1; if seen == 3 { break } }
        XCTAssertEqual(seen, 3)
    }

    /// SPEC "must show" 4: a corrupt JPEG inside a dataset is skipped, counted and named; the rest loads.
    func testCorruptJPEGIsSkippedAndNamed() throws {
        let root = try temporaryFolder(self)
        var img = PixelImage(width: 20, height: 20, channels: 3, fill: 90)
        img.pixels[0] = 200
        let jpeg = try encodeJPEG(img)
        for (k, cls) in ["happy", "sad", "angry"].enumerated() {
            for i in 0..<3 { try writeBytes(jpeg, "\(root)/train/\(cls)/\(k)_\(i).jpg") }
        }
        try writeBytes(Array(jpeg[0..<(jpeg.count / 3)]), "\(root)/train/sad/broken.jpg")     // truncated
        try writeBytes([0xFF, 0xD8, 0xFF, 0xE0, 0, 16] + [UInt8](repeating: 0x41, count: 60), "\(root)/train/angry/garbage.jpg")
        let t = TransformConfig(size: 24, channels: 3)
        for cache in [CachePolicy.always, .never] {
            let ds = try Dataset.load(root)
            XCTAssertEqual(try ds.split("train").count, 11)
            let l = try DataLoader(dataset: ds, split: "train", transform: t, augment: AugmentConfig(),
                                   options: LoaderOptions(batchSize: 4, workers: 2, cache: cache, warn: cache == .always))
            let batches = Array(l.batches(epoch: 0))
            let names = Set(ds.skipped.map { ($0.path as NSString).lastPathComponent })
            XCTAssertEqual(names, ["broken.jpg", "garbage.jpg"], "cache \(cache)")
            XCTAssertTrue(ds.skipped.allSatisfy { !$0.reason.isEmpty })
            let used = batches.flatMap(\.indices).map { l.samples[$0].source.path! }
            XCTAssertFalse(used.contains { $0.hasSuffix("broken.jpg") || $0.hasSuffix("garbage.jpg") })
            // Cached: the two are dropped up front; uncached: each is replaced by the next sample.
            XCTAssertEqual(batches.reduce(0) { $0 + $1.count }, cache == .always ? 9 : 11)
        }
    }

    func testPrepareAppliesCLAHEAndShrinksLargeImages() throws {
        let photo = try fixtureImage("photo.png")
        let t = TransformConfig(size: 32, channels: 3, clahe: true)
        let p = t.prepare(photo)
        XCTAssertEqual(min(p.width, p.height), 64)
        let gray = TransformConfig(size: 200, channels: 3, clahe: true).prepare(photo.toGray())
        XCTAssertEqual(gray.channels, 1, "gray sources stay single-channel when prepared")
        XCTAssertTrue(gray == CLAHE().apply(to: photo.toGray()), "CLAHE runs on the gray plane itself")
        let g = TransformConfig(size: 200, channels: 1, clahe: true).prepare(photo)
        XCTAssertEqual([g.width, g.height, g.channels], [224, 126, 1])
        XCTAssertTrue(g == CLAHE().apply(to: photo.toGray()))
    }
}
