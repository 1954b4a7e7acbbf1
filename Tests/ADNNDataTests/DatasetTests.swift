import XCTest
@testable import ADNNData

/// A tiny gray PNG whose first pixel encodes `tag`.
func tinyPNG(_ tag: UInt8, width: Int = 8, height: Int = 8) throws -> [UInt8] {
    var img = PixelImage(width: width, height: height, channels: 1, fill: 100)
    img.pixels[0] = tag
    return try encodePNG(img)
}

/// A .npy file holding one scalar of dtype `descr` with raw little-endian `payload`.
func npyFile(descr: String, payload: [UInt8]) -> [UInt8] {
    var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    let len = header.utf8.count
    return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(len & 0xff), UInt8(len >> 8)] + Array(header.utf8) + payload
}

func utf32(_ s: String) -> [UInt8] { s.unicodeScalars.flatMap { v -> [UInt8] in
    let u = v.value; return [UInt8(u & 0xff), UInt8((u >> 8) & 0xff), UInt8((u >> 16) & 0xff), UInt8(u >> 24)] } }

func int64LE(_ v: Int64) -> [UInt8] { (0..<8).map { UInt8((UInt64(bitPattern: v) >> (8 * UInt64($0))) & 0xff) } }

final class DatasetTests: XCTestCase {
    func testFERPlusMajorityVoteAndDropRules() throws {
        let root = try temporaryFolder(self)
        let rows = [
            "Training,fer0000000.png,4,6,0,0,0,0,0,0,0,0",      // happiness
            "Training,fer0000001.png,5,5,0,0,0,0,0,0,0,0",      // tie → dropped
            "Training,fer0000002.png,3,0,0,0,0,0,0,0,2,1",      // unknown+NF ≥ top → dropped
            "Training,,0,0,0,0,0,0,0,0,0,10",                   // no image → dropped
            "PublicTest,fer0000003.png,0,0,0,0,0,0,0,7,1,0",    // contempt
            "PrivateTest,fer0000004.png,0,0,0,0,8,1,0,0,0,1",   // anger
            "Training,fer0000005.png,0,0,9,0,0,0,0,0,0,1",      // surprise, but image missing
        ]
        try writeText(FERPlusReader.header + "\r\n" + rows.joined(separator: "\r\n") + "\r\n", root + "/fer2013new.csv")
        try writeBytes(try tinyPNG(1), root + "/FER2013Train/fer0000000.png")
        try writeBytes(try tinyPNG(2), root + "/FER2013Train/fer0000001.png")
        try writeBytes(try tinyPNG(3), root + "/FER2013Train/fer0000002.png")
        try writeBytes(try tinyPNG(4), root + "/FER2013Valid/fer0000003.png")
        try writeBytes(try tinyPNG(5), root + "/FER2013Test/fer0000004.png")

        XCTAssertEqual(try Dataset.detectFormat(root), .ferplus)
        let ds = try Dataset.load(root)
        XCTAssertEqual(ds.format, .ferplus)
        XCTAssertEqual(ds.classes, ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"])
        XCTAssertEqual(try ds.split("train").labels, [1])
        XCTAssertEqual(try ds.split("val").labels, [7])
        XCTAssertEqual(try ds.split("test").labels, [4])
        XCTAssertEqual(ds.dropped["tied top vote"], 1)
        XCTAssertEqual(ds.dropped["unknown+NF ≥ top vote"], 1)
        XCTAssertEqual(ds.dropped["no image name"], 1)
        XCTAssertEqual(ds.skipped.count, 1)
        XCTAssertTrue(ds.skipped[0].path.hasSuffix("fer0000005.png"))
        XCTAssertEqual(try ds.loadImage(try ds.split("test").samples[0]).pixels[0], 5)

        let ds7 = try Dataset.load(root, options: DatasetOptions(numClasses: 7))
        XCTAssertEqual(ds7.classes.count, 7)
        XCTAssertEqual(try ds7.split("val").count, 0)
        XCTAssertEqual(ds7.dropped["contempt (7 classes)"], 1)

        // Vote distributions over the emotions (unknown and NF left out).
        XCTAssertEqual(try ds.split("train").samples[0].distribution, [0.4, 0.6, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(try ds.split("test").samples[0].distribution, [0, 0, 0, 0, 8 / 9, 1 / 9, 0, 0])
        XCTAssertTrue(try ds.split("train").hasLabelDistributions)
    }

    /// With `softLabels` a batch carries each sample's vote distribution, mixed with its mixup
    /// partner's by λ, and a data-parallel part carries exactly its rows of the whole batch's.
    func testFERPlusSoftLabelBatchesUnderMixupAndSharding() throws {
        let root = try temporaryFolder(self)
        var rows: [String] = [], votes: [[Float]] = []
        for i in 0..<12 {
            var v = [Int](repeating: 0, count: 10)
            v[i % 8] = 5 + i % 3; v[(i + 3) % 8] = 2; v[9] = i % 2       // NF votes are not an emotion
            rows.append("Training,fer\(i).png," + v.map(String.init).joined(separator: ","))
            votes.append(v.prefix(8).map { Float($0) / Float(v.prefix(8).reduce(0, +)) })
            try writeBytes(try tinyPNG(UInt8(i)), root + "/FER2013Train/fer\(i).png")
        }
        try writeText(FERPlusReader.header + "\n" + rows.joined(separator: "\n") + "\n", root + "/fer2013new.csv")
        let ds = try Dataset.load(root)
        let t = TransformConfig(size: 8, channels: 1, mean: [0.5], std: [0.5])
        var aug = AugmentConfig()
        aug.mixup = 1
        func batches(soft: Bool, rank: Int = 0, ranks: Int = 1) throws -> [Batch] {
            var o = LoaderOptions(batchSize: 6, workers: 1, seed: 5)
            o.softLabels = soft; o.shardRank = rank; o.shardCount = ranks
            return Array(try DataLoader(dataset: ds, split: "train", transform: t, augment: aug, options: o).batches(epoch: 0))
        }
        XCTAssertNil(try batches(soft: false)[0].distributions)
        let whole = try batches(soft: true)
        let parts = try (0..<2).map { try batches(soft: true, rank: $0, ranks: 2) }
        XCTAssertEqual(whole.count, 2)
        for (s, b) in whole.enumerated() {
            XCTAssertTrue(b.isMixed)
            let d = try XCTUnwrap(b.distributions)
            for r in 0..<b.count {
                let partner = b.indices[b.count - 1 - r]
                let expected = (0..<8).map { b.mixLambda * votes[b.indices[r]][$0] + (1 - b.mixLambda) * votes[partner][$0] }
                for j in 0..<8 { XCTAssertEqual(d[r * 8 + j], expected[j], accuracy: 1e-6, "batch \(s) row \(r)") }
            }
            XCTAssertEqual(b.softTargets, d)
            XCTAssertEqual(parts.flatMap { $0[s].distributions ?? [] }, d)
        }
    }

    func testRAFDBLabelsSplitsAndAlignedFallback() throws {
        let root = try temporaryFolder(self) + "/basic"
        try writeText("train_00001.jpg 5\ntrain_00002.jpg 1\ntest_0001.jpg 7\ntrain_00003.jpg 9\ntest_0002.jpg 3\n",
                      root + "/EmoLabel/list_patition_label.txt")
        try writeBytes(try tinyPNG(11), root + "/Image/aligned/train_00001_aligned.jpg")
        try writeBytes(try tinyPNG(12), root + "/Image/original/train_00002.jpg")
        try writeBytes(try tinyPNG(99), root + "/Image/original/train_00001.jpg")
        try writeBytes(try tinyPNG(13), root + "/Image/aligned/test_0001_aligned.jpg")
        XCTAssertEqual(try Dataset.detectFormat(root), .rafdb)
        let ds = try Dataset.load((root as NSString).deletingLastPathComponent)   // parent of basic/ works too
        XCTAssertEqual(ds.format, .rafdb)
        XCTAssertEqual(ds.classes, ["surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral"])
        let train = try ds.split("train"), test = try ds.split("test")
        XCTAssertEqual(train.labels, [4, 0])                                   // sadness, surprise
        XCTAssertEqual(test.labels, [6])                                       // neutral
        XCTAssertTrue(train.samples[0].source.path!.hasSuffix("aligned/train_00001_aligned.jpg"))
        XCTAssertTrue(train.samples[1].source.path!.hasSuffix("original/train_00002.jpg"))
        XCTAssertEqual(try ds.loadImage(train.samples[0]).pixels[0], 11)
        XCTAssertEqual(ds.skipped.count, 2)                                    // bad label 9, missing test_0002
        XCTAssertTrue(ds.skipped.contains { $0.path.hasSuffix("list_patition_label.txt:4") })
    }

    func testAffectNetNpyLayout() throws {
        let root = try temporaryFolder(self)
        let files: [(String, String, [UInt8])] = [
            ("train_set", "0", npyFile(descr: "<U1", payload: utf32("1"))),     // happiness (string label)
            ("train_set", "1", npyFile(descr: "<i8", payload: int64LE(7))),     // contempt
            ("train_set", "2", npyFile(descr: "<U2", payload: utf32("8") + [0, 0, 0, 0])),   // not an expression → dropped
            ("train_set", "10", npyFile(descr: "|u1", payload: [3])),           // surprise
            ("val_set", "5", npyFile(descr: "<U1", payload: utf32("6"))),       // anger
            ("val_set", "6", npyFile(descr: "<f8", payload: int64LE(Int64(bitPattern: (4.0).bitPattern)))),   // fear, no image
        ]
        for (dir, id, npy) in files {
            try writeBytes(npy, "\(root)/\(dir)/annotations/\(id)_exp.npy")
            if id != "6" { try writeBytes(try tinyPNG(UInt8(id)!), "\(root)/\(dir)/images/\(id).jpg") }
        }
        XCTAssertEqual(try Dataset.detectFormat(root), .affectnet)
        let ds = try Dataset.load(root)
        XCTAssertEqual(ds.classes, ["neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger", "contempt"])
        XCTAssertEqual(try ds.split("train").labels, [1, 7, 3])               // ids sorted numerically: 0, 1, 10
        XCTAssertEqual(try ds.split("val").labels, [6])
        XCTAssertEqual(ds.dropped["None (8)"], 1)
        XCTAssertEqual(ds.skipped.map { ($0.path as NSString).lastPathComponent }, ["6.jpg"])
        XCTAssertEqual(try ds.loadImage(try ds.split("train").samples[2]).pixels[0], 10)

        let ds7 = try Dataset.load(root, options: DatasetOptions(numClasses: 7))
        XCTAssertEqual(ds7.classes.count, 7)
        XCTAssertEqual(try ds7.split("train").labels, [1, 3])
        XCTAssertEqual(ds7.dropped["contempt (7 classes)"], 1)
    }

    func testAffectNetCSVLayout() throws {
        let root = try temporaryFolder(self)
        let h = AffectNetReader.csvHeader
        let train = [
            "1/a.jpg,2,3,20,10,\"1.5;2.5;3.5\",3,0.1,-0.2",      // surprise, face box
            "1/b.jpg,0,0,10,10,,8,0,0",                          // None
            "1/c.jpg,0,0,10,10,,9,0,0",                          // Uncertain
            "1/d.jpg,0,0,10,10,,10,0,0",                         // Non-Face
            "1/e.jpg,0,0,10,10,,7,0,0",                          // contempt
            "1/missing.jpg,0,0,10,10,,2,0,0",                    // sadness, image missing
        ]
        try writeText(h + "\n" + train.joined(separator: "\n") + "\n", root + "/Manually_Annotated_file_lists/training.csv")
        try writeText(h + "\n2/f.jpg,0,0,4,4,,0,0.5,0.5\n", root + "/Manually_Annotated_file_lists/validation.csv")
        for (name, tag) in [("1/a.jpg", 1), ("1/b.jpg", 2), ("1/c.jpg", 3), ("1/d.jpg", 4), ("1/e.jpg", 5), ("2/f.jpg", 6)] {
            try writeBytes(try tinyPNG(UInt8(tag), width: 40, height: 30), root + "/Manually_Annotated_Images/" + name)
        }
        let ds = try Dataset.load(root)
        XCTAssertEqual(ds.format, .affectnet)
        let tr = try ds.split("train")
        XCTAssertEqual(tr.labels, [3, 7])
        XCTAssertEqual(try ds.split("val").labels, [0])
        XCTAssertEqual(ds.dropped["None (8)"], 1)
        XCTAssertEqual(ds.dropped["Uncertain (9)"], 1)
        XCTAssertEqual(ds.dropped["Non-Face (10)"], 1)
        XCTAssertEqual(ds.skipped.count, 1)
        guard case let .fileRegion(path, x, y, w, hh) = tr.samples[0].source else { return XCTFail("expected a face box") }
        XCTAssertTrue(path.hasSuffix("Manually_Annotated_Images/1/a.jpg"))
        XCTAssertEqual([x, y, w, hh], [2, 3, 20, 10])
        let face = try ds.loadImage(tr.samples[0])
        XCTAssertEqual([face.width, face.height], [20, 10])
        let ds7 = try Dataset.load(root, options: DatasetOptions(numClasses: 7))
        XCTAssertEqual(try ds7.split("train").labels, [3])

        // A single list file works too; a wrong header is one clear error naming file and header.
        XCTAssertEqual(try Dataset.load(root + "/Manually_Annotated_file_lists/validation.csv").splitNames, ["val"])
        let bad = root + "/Manually_Annotated_file_lists/bad.csv"
        try writeText("subDirectory_filePath,face_x,expression\n1/a.jpg,0,1\n", bad)
        XCTAssertThrowsError(try Dataset.load(bad, options: DatasetOptions(format: .affectnet))) { e in
            let s = "\(e)"
            XCTAssertTrue(s.contains(bad) && s.contains(AffectNetReader.csvHeader), s)
        }
    }

    func testFER2013CSVAndWrongHeader() throws {
        let root = try temporaryFolder(self)
        let px = (0..<2304).map { String($0 % 256) }.joined(separator: " ")
        let csv = "emotion,pixels,Usage\n0,\(px),Training\n6,\(px),PublicTest\n3,\(px),PrivateTest\n9,\(px),Training\n2,1 2 3,Training\n"
        try writeText(csv, root + "/fer2013.csv")
        let ds = try Dataset.load(root)
        XCTAssertEqual(ds.format, .fer2013)
        XCTAssertEqual(ds.classes, ["anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral"])
        XCTAssertEqual(try ds.split("train").labels, [0])
        XCTAssertEqual(try ds.split("val").labels, [6])
        XCTAssertEqual(try ds.split("test").labels, [3])
        XCTAssertEqual(ds.skipped.count, 2)
        let img = try ds.loadImage(try ds.split("val").samples[0])
        XCTAssertEqual([img.width, img.height, img.channels], [48, 48, 1])
        XCTAssertEqual(img.pixels[300], UInt8(300 % 256))

        let wrong = root + "/other.csv"
        try writeText("label,image,split\n0,1 2,Training\n", wrong)
        XCTAssertThrowsError(try Dataset.load(wrong)) { e in
            XCTAssertTrue("\(e)".contains(wrong) && "\(e)".contains("emotion,pixels,Usage"), "\(e)")
        }
        XCTAssertThrowsError(try Dataset.load(wrong, options: DatasetOptions(format: .fer2013))) { e in
            XCTAssertTrue("\(e)".contains(wrong) && "\(e)".contains("expected \"emotion,pixels,Usage\""), "\(e)")
        }
        XCTAssertThrowsError(try Dataset.load(root + "/nope")) { e in XCTAssertTrue("\(e)".contains(root + "/nope")) }
    }

    func testFolderSynonymsAndOrder() throws {
        let root = try temporaryFolder(self)
        try writeBytes(try tinyPNG(1), root + "/train/happy/a.png")
        try writeBytes(try tinyPNG(2), root + "/train/angry/b.png")
        try writeBytes(try tinyPNG(3), root + "/train/Surprised/c.PNG")
        try writeBytes(try tinyPNG(4), root + "/valid/angry/d.png")
        try writeText("not an image", root + "/train/angry/readme.txt")
        let ds = try Dataset.load(root)
        XCTAssertEqual(ds.format, .folder)
        XCTAssertEqual(ds.classes, ["surprise", "anger", "happiness"])        // sorted folder names: Surprised, angry, happy
        XCTAssertEqual(try ds.split("train").labels, [0, 1, 2])             // Surprised/c, angry/b, happy/a
        XCTAssertEqual(try ds.split("val").labels, [1])
        XCTAssertEqual(try ds.split("train").count, 3)
        // A folder that names no emotion is a class of its own, kept as given.
        try writeBytes(try tinyPNG(5), root + "/train/bored/e.png")
        let custom = try Dataset.load(root)
        XCTAssertEqual(custom.classes, ["surprise", "anger", "bored", "happiness"])   // Surprised, angry, bored, happy
        XCTAssertEqual(try custom.split("train").labels, [0, 1, 2, 3])
    }

    func testSyntheticSetIsDeterministicAndBalanced() throws {
        let ds = try Dataset.load("synthetic:train=70,val=14,test=0,size=40,seed=3")
        XCTAssertEqual(ds.format, .synthetic)
        XCTAssertEqual(ds.classes, SyntheticFaces.classes)
        XCTAssertEqual(ds.splitNames, ["train", "val"])
        XCTAssertEqual(try ds.split("train").classCounts(numClasses: 7), [10, 10, 10, 10, 10, 10, 10])
        let s = try ds.split("train").samples[5]
        let a = try ds.loadImage(s), b = try ds.loadImage(s)
        XCTAssertEqual(a, b)
        XCTAssertEqual([a.width, a.height, a.channels], [40, 40, 1])
        XCTAssertNotEqual(try ds.loadImage(try ds.split("train").samples[12]), a)
        XCTAssertThrowsError(try Dataset.load("synthetic:bogus=1")) { e in XCTAssertTrue("\(e)".contains("bogus")) }
    }

    /// SPEC "must show" 1: the FER2013 folder copy and the Kaggle-format sample.
    func testSharedFER2013Counts() throws {
        let fer = try sharedData("fer2013")
        let ds = try Dataset.load(fer)
        XCTAssertEqual(ds.format, .folder)
        XCTAssertEqual(ds.classes, ["anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"])
        XCTAssertEqual(try ds.split("train").classCounts(numClasses: 7), [3995, 436, 4097, 7215, 4965, 4830, 3171])
        XCTAssertEqual(try ds.split("val").classCounts(numClasses: 7), [467, 56, 496, 895, 607, 653, 415])
        XCTAssertEqual(try ds.split("train").count, 28709)
        XCTAssertEqual(try ds.split("val").count, 3589)

        let sample = try Dataset.load(fer + "/fer2013_sample.csv")
        XCTAssertEqual(sample.format, .fer2013)
        XCTAssertEqual(try sample.split("train").classCounts(numClasses: 7), [220, 220, 220, 220, 220, 220, 220])
        XCTAssertEqual(try sample.split("val").classCounts(numClasses: 7), [80, 56, 80, 80, 80, 80, 80])
        XCTAssertEqual(try sample.split("train").count + sample.split("val").count, 2076)
        XCTAssertTrue(sample.skipped.isEmpty)
    }
}
