import Foundation

private func join(_ a: String, _ b: String) -> String { (a as NSString).appendingPathComponent(b) }
private func exists(_ p: String) -> Bool { FileManager.default.fileExists(atPath: p) }
private func isDirectory(_ p: String) -> Bool {
    var d: ObjCBool = false
    return FileManager.default.fileExists(atPath: p, isDirectory: &d) && d.boolValue
}
private func listDirectory(_ p: String) throws -> [String] {
    do { return try FileManager.default.contentsOfDirectory(atPath: p).sorted() }
    catch { throw DataError.io(path: p, reason: "cannot list folder") }
}

/// Maps a usage/split word to `train`, `val` or `test`.
private func splitName(_ s: String) -> String? {
    switch s.lowercased() {
    case "training", "train": return "train"
    case "publictest", "val", "valid", "validation": return "val"
    case "privatetest", "test": return "test"
    default: return nil
    }
}

private func makeSplits(_ samples: [String: [Sample]]) -> [String: DatasetSplit] {
    var out: [String: DatasetSplit] = [:]
    for (k, v) in samples { out[k] = DatasetSplit(name: k, samples: v) }
    return out
}

// MARK: - FER2013

/// Kaggle FER2013 (`fer2013.csv`: `emotion,pixels,Usage`; 48×48 gray as space-separated values).
enum FER2013Reader {
    static let header = "emotion,pixels,Usage"
    /// Label order 0…6 of the CSV.
    static let classes = ["anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral"]

    static func matches(_ h: [String]) -> Bool {
        let s = Set(h.map { $0.lowercased() })
        return s.contains("emotion") && s.contains("pixels") && s.contains("usage")
    }

    static func load(_ path: String) throws -> Dataset {
        var file = path
        if isDirectory(path) {
            file = [join(path, "fer2013.csv"), join(path, "fer2013/fer2013.csv")].first(where: exists) ?? join(path, "fer2013.csv")
        }
        return try parse(CSVFile(path: file))
    }

    /// Parses FER2013 CSV bytes already in memory (`csv.path` names the file in messages).
    static func parse(_ csv: CSVFile) throws -> Dataset {
        let file = csv.path
        guard let head = try csv.header(), matches(head) else {
            throw DataError.badHeader(path: file, expected: header, found: (try csv.header() ?? []).joined(separator: ","))
        }
        let lower = head.map { $0.lowercased() }
        let ie = lower.firstIndex(of: "emotion")!, ip = lower.firstIndex(of: "pixels")!, iu = lower.firstIndex(of: "usage")!
        var pixels: [UInt8] = []
        pixels.reserveCapacity(csv.bytes.count / 4)
        var side = 0
        var bySplit: [String: [Sample]] = [:]
        var skipped: [SkippedItem] = []
        var rows = 0
        var first = true
        try csv.forEachRecord { line, f in
            if first { first = false; return }
            guard f.count > max(ie, ip, iu) else {
                skipped.append(SkippedItem(path: "\(file):\(line)", reason: "expected \(head.count) fields, found \(f.count)"))
                return
            }
            guard let label = csvInt(f[ie]), (0..<7).contains(label) else {
                skipped.append(SkippedItem(path: "\(file):\(line)", reason: "emotion '\(csvString(f[ie]))' is not 0…6"))
                return
            }
            let usage = csvString(f[iu])
            guard let split = splitName(usage) else {
                skipped.append(SkippedItem(path: "\(file):\(line)", reason: "unknown Usage '\(usage)'"))
                return
            }
            if bySplit[split] == nil { bySplit[split] = [] }
            let start = pixels.count
            var v = -1, count = 0, bad = false
            for b in f[ip] {
                if b >= 48 && b <= 57 {
                    v = (v < 0 ? 0 : v) * 10 + Int(b - 48)
                    if v > 255 { bad = true; break }
                } else if b == 0x20 || b == 0x09 {
                    if v >= 0 { pixels.append(UInt8(v)); count += 1; v = -1 }
                } else { bad = true; break }
            }
            if v >= 0 && !bad { pixels.append(UInt8(v)); count += 1 }
            if side == 0 && !bad {
                let s = Int(Double(count).squareRoot().rounded())
                if s * s == count && s > 0 { side = s }
            }
            if bad || count != side * side || side == 0 {
                pixels.removeSubrange(start...)
                skipped.append(SkippedItem(path: "\(file):\(line)", reason: bad ? "pixels are not 0…255 integers"
                                           : "expected \(side * side) pixels, found \(count)"))
                return
            }
            bySplit[split, default: []].append(Sample(source: .memory(rows), label: label))
            rows += 1
        }
        return Dataset(format: .fer2013, root: file, classes: classes, splits: makeSplits(bySplit), skipped: skipped,
                       memoryPixels: pixels, memoryWidth: side, memoryHeight: side)
    }
}

extension Dataset {
    /// Parses a FER2013 CSV file held in memory (`name` is used in messages), as `load` does for a
    /// `fer2013.csv` path: malformed rows are listed in `skipped`; a wrong header throws.
    /// - Throws: `DataError.badHeader` or `DataError.malformed` naming `name`.
    public static func parseFER2013(csv bytes: [UInt8], name: String) throws -> Dataset {
        try FER2013Reader.parse(CSVFile(path: name, bytes: bytes))
    }
}

// MARK: - FERPlus

/// FERPlus (`fer2013new.csv` votes; images in `FER2013Train/`, `FER2013Valid/`, `FER2013Test/`).
///
/// Label = the emotion with the most votes. A row is dropped when the top vote is tied, when
/// `unknown + NF ≥` the top vote, when it names no image, and (with 7 classes) when the label
/// is contempt. Each sample also carries its emotion votes normalised to sum 1 (`Sample.distribution`;
/// unknown and NF left out) — the "probabilistic label drawing" / crossentropy targets of Barsoum et
/// al., ICMI 2016, https://arxiv.org/abs/1608.01041.
enum FERPlusReader {
    static let header = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"
    static let classes = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]

    static func matches(_ h: [String]) -> Bool {
        h.map { $0.lowercased() } == header.lowercased().split(separator: ",").map(String.init)
    }

    static func load(_ path: String, numClasses: Int?) throws -> Dataset {
        var file = path
        if isDirectory(path) {
            file = [join(path, "fer2013new.csv"), join(path, "FERPlus/fer2013new.csv")].first(where: exists)
                ?? join(path, "fer2013new.csv")
        }
        let csv = try CSVFile(path: file)
        let head = try csv.header() ?? []
        guard matches(head) else { throw DataError.badHeader(path: file, expected: header, found: head.joined(separator: ",")) }
        let base = (file as NSString).deletingLastPathComponent
        let folders = ["train": "FER2013Train", "val": "FER2013Valid", "test": "FER2013Test"]
        var folderPath: [String: String] = [:]
        for (split, name) in folders {
            folderPath[split] = [join(base, name), join(base, "data/" + name), join(base, "FERPlus/data/" + name)]
                .first(where: isDirectory) ?? join(base, name)
        }
        let drop7 = numClasses == 7
        var bySplit: [String: [Sample]] = [:]
        var skipped: [SkippedItem] = []
        var dropped: [String: Int] = [:]
        var first = true
        try csv.forEachRecord { line, f in
            if first { first = false; return }
            guard f.count >= 12 else {
                skipped.append(SkippedItem(path: "\(file):\(line)", reason: "expected 12 fields, found \(f.count)")); return
            }
            let usage = csvString(f[0])
            guard let split = splitName(usage) else {
                skipped.append(SkippedItem(path: "\(file):\(line)", reason: "unknown Usage '\(usage)'")); return
            }
            if bySplit[split] == nil { bySplit[split] = [] }
            let name = csvString(f[1])
            if name.isEmpty { dropped["no image name", default: 0] += 1; return }
            var votes = [Int](repeating: 0, count: 10)
            for k in 0..<10 {
                guard let v = csvInt(f[2 + k]), v >= 0 else {
                    skipped.append(SkippedItem(path: "\(file):\(line)", reason: "vote '\(csvString(f[2 + k]))' is not a count"))
                    return
                }
                votes[k] = v
            }
            let emo = votes[0..<8]
            let top = emo.max()!
            if top == 0 { dropped["no emotion votes", default: 0] += 1; return }
            if emo.filter({ $0 == top }).count > 1 { dropped["tied top vote", default: 0] += 1; return }
            if votes[8] + votes[9] >= top { dropped["unknown+NF ≥ top vote", default: 0] += 1; return }
            let label = emo.firstIndex(of: top)! - emo.startIndex
            if drop7 && label == 7 { dropped["contempt (7 classes)", default: 0] += 1; return }
            let img = join(folderPath[split]!, name)
            guard exists(img) else { skipped.append(SkippedItem(path: img, reason: "missing image")); return }
            // The vote distribution over the kept emotions (contempt's votes leave with it under 7 classes).
            let kept = Array(emo.prefix(drop7 ? 7 : 8))
            let total = Float(kept.reduce(0, +))
            bySplit[split, default: []].append(Sample(source: .file(img), label: label,
                                                      distribution: kept.map { Float($0) / total }))
        }
        return Dataset(format: .ferplus, root: file, classes: drop7 ? Array(classes.prefix(7)) : classes,
                       splits: makeSplits(bySplit), skipped: skipped, dropped: dropped)
    }
}

// MARK: - RAF-DB

/// RAF-DB basic (`EmoLabel/list_patition_label.txt`: `train_00001.jpg 5`, labels 1…7).
enum RAFDBReader {
    /// Label order 1…7 of the list file.
    static let classes = ["surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral"]

    /// The label list under `root` (or `root/basic`), if present.
    static func labelFile(_ root: String) -> String? {
        [join(root, "EmoLabel/list_patition_label.txt"), join(root, "basic/EmoLabel/list_patition_label.txt")]
            .first(where: exists)
    }

    static func load(_ path: String) throws -> Dataset {
        guard let list = labelFile(path) else {
            throw DataError.unknownLayout(path: path, reason: "not RAF-DB: EmoLabel/list_patition_label.txt is missing")
        }
        let base = ((list as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
        let text = String(decoding: try readFileBytes(list), as: UTF8.self)
        var bySplit: [String: [Sample]] = [:]
        var skipped: [SkippedItem] = []
        for (i, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count == 2, let l = Int(parts[1]), (1...7).contains(l) else {
                skipped.append(SkippedItem(path: "\(list):\(i + 1)", reason: "expected '<name>.jpg <label 1…7>'")); continue
            }
            let name = String(parts[0])
            let split: String
            if name.hasPrefix("train_") { split = "train" }
            else if name.hasPrefix("test_") { split = "test" }
            else { skipped.append(SkippedItem(path: "\(list):\(i + 1)", reason: "name has no train_/test_ prefix")); continue }
            if bySplit[split] == nil { bySplit[split] = [] }
            let stem = (name as NSString).deletingPathExtension
            let aligned = join(base, "Image/aligned/\(stem)_aligned.jpg")
            let original = join(base, "Image/original/\(name)")
            let img: String
            if exists(aligned) { img = aligned }
            else if exists(original) { img = original }
            else { skipped.append(SkippedItem(path: aligned, reason: "missing image (also no \(original))")); continue }
            bySplit[split, default: []].append(Sample(source: .file(img), label: l - 1))
        }
        return Dataset(format: .rafdb, root: base, classes: classes, splits: makeSplits(bySplit), skipped: skipped)
    }
}

// MARK: - AffectNet

/// AffectNet, two layouts:
/// - `{train_set,val_set}/images/<id>.jpg` with `annotations/<id>_exp.npy` (0…7);
/// - `Manually_Annotated_file_lists/{training,validation}.csv` (`subDirectory_filePath,face_x,
///   face_y,face_width,face_height,facial_landmarks,expression,valence,arousal`) with images in
///   `Manually_Annotated_Images/`; the face box is cropped when the image is read.
///
/// Expression codes 0…7 are kept (7 = contempt, dropped with 7 classes); 8 (None),
/// 9 (Uncertain), 10 (Non-Face) and anything else are dropped.
enum AffectNetReader {
    static let classes = ["neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger", "contempt"]
    static let csvHeader = "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal"
    static let droppedNames = [8: "None (8)", 9: "Uncertain (9)", 10: "Non-Face (10)"]

    static func matchesCSV(_ h: [String]) -> Bool {
        h.map { $0.lowercased() } == csvHeader.lowercased().split(separator: ",").map(String.init)
    }

    static func load(_ path: String, numClasses: Int?) throws -> Dataset {
        let drop7 = numClasses == 7
        var bySplit: [String: [Sample]] = [:]
        var skipped: [SkippedItem] = []
        var dropped: [String: Int] = [:]
        func keep(_ label: Int) -> Bool {
            if label >= 8 || label < 0 { dropped[droppedNames[label] ?? "expression \(label)", default: 0] += 1; return false }
            if drop7 && label == 7 { dropped["contempt (7 classes)", default: 0] += 1; return false }
            return true
        }
        var root = path
        var csvFiles: [(String, String)] = []
        if !isDirectory(path) && path.lowercased().hasSuffix(".csv") {
            let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension.lowercased()
            csvFiles = [(path, stem.hasPrefix("valid") ? "val" : stem.hasPrefix("test") ? "test" : "train")]
            root = ((path as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
        } else if isDirectory(join(path, "Manually_Annotated_file_lists")) {
            for (name, split) in [("training.csv", "train"), ("validation.csv", "val")] {
                let f = join(path, "Manually_Annotated_file_lists/" + name)
                if exists(f) { csvFiles.append((f, split)) }
            }
            if csvFiles.isEmpty {
                throw DataError.unknownLayout(path: join(path, "Manually_Annotated_file_lists"),
                                              reason: "neither training.csv nor validation.csv is present")
            }
        }
        if !csvFiles.isEmpty {
            let imageBase = [join(root, "Manually_Annotated_Images"), join(root, "Manually_Annotated/Manually_Annotated_Images")]
                .first(where: isDirectory) ?? root
            for (file, split) in csvFiles {
                let csv = try CSVFile(path: file)
                let head = try csv.header() ?? []
                guard matchesCSV(head) else {
                    throw DataError.badHeader(path: file, expected: csvHeader, found: head.joined(separator: ","))
                }
                if bySplit[split] == nil { bySplit[split] = [] }
                var first = true
                try csv.forEachRecord { line, f in
                    if first { first = false; return }
                    guard f.count >= 9 else {
                        skipped.append(SkippedItem(path: "\(file):\(line)", reason: "expected 9 fields, found \(f.count)")); return
                    }
                    guard let label = csvInt(f[6]) else {
                        skipped.append(SkippedItem(path: "\(file):\(line)", reason: "expression '\(csvString(f[6]))' is not an integer"))
                        return
                    }
                    guard keep(label) else { return }
                    let img = join(imageBase, csvString(f[0]))
                    guard exists(img) else { skipped.append(SkippedItem(path: img, reason: "missing image")); return }
                    if let x = csvInt(f[1]), let y = csvInt(f[2]), let w = csvInt(f[3]), let h = csvInt(f[4]), w > 0, h > 0 {
                        bySplit[split, default: []].append(Sample(source: .fileRegion(img, x: x, y: y, width: w, height: h), label: label))
                    } else {
                        bySplit[split, default: []].append(Sample(source: .file(img), label: label))
                    }
                }
            }
        } else {
            var any = false
            for (dir, split) in [("train_set", "train"), ("val_set", "val")] {
                let ann = join(path, dir + "/annotations"), imgs = join(path, dir + "/images")
                guard isDirectory(ann) else { continue }
                any = true
                if bySplit[split] == nil { bySplit[split] = [] }
                var ids = try listDirectory(ann).filter { $0.hasSuffix("_exp.npy") }.map { String($0.dropLast(8)) }
                if ids.allSatisfy({ Int($0) != nil }) { ids.sort { Int($0)! < Int($1)! } }
                for id in ids {
                    let npy = join(ann, id + "_exp.npy")
                    let label: Int
                    do { label = try NpyReader.firstInteger(try readFileBytes(npy), path: npy) }
                    catch let e as DataError { skipped.append(SkippedItem(path: npy, reason: "\(e)")); continue }
                    guard keep(label) else { continue }
                    guard let img = ["jpg", "jpeg", "png"].map({ join(imgs, "\(id).\($0)") }).first(where: exists) else {
                        skipped.append(SkippedItem(path: join(imgs, id + ".jpg"), reason: "missing image")); continue
                    }
                    bySplit[split, default: []].append(Sample(source: .file(img), label: label))
                }
            }
            if !any {
                throw DataError.unknownLayout(path: path, reason: "not AffectNet: no train_set/annotations, val_set/annotations "
                                              + "or Manually_Annotated_file_lists")
            }
        }
        return Dataset(format: .affectnet, root: root, classes: drop7 ? Array(classes.prefix(7)) : classes,
                       splits: makeSplits(bySplit), skipped: skipped, dropped: dropped)
    }
}

// MARK: - Folder

/// `<root>/<split>/<class>/*.{jpg,jpeg,png}` (split ∈ train|val|valid|test); class folders that name
/// an emotion map through `Emotion(synonym:)`, any other folder name is kept as the class name. Classes are ordered by sorted folder name (like torchvision's
/// ImageFolder). A root holding class folders directly is read as a single `train` split.
enum FolderReader {
    static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]

    static func splitFolders(_ root: String) -> [(String, String)] {
        guard let names = try? listDirectory(root) else { return [] }
        return names.compactMap { n in
            guard isDirectory(join(root, n)) else { return nil }
            switch n.lowercased() {
            case "train", "training": return (n, "train")
            case "val", "valid", "validation": return (n, "val")
            case "test": return (n, "test")
            default: return nil
            }
        }
    }

    static func looksLikeFolder(_ root: String) -> Bool {
        if !splitFolders(root).isEmpty { return true }
        guard let names = try? listDirectory(root) else { return false }
        // Class folders directly under the root: an emotion name, or any folder holding images.
        return names.contains { n in
            let dir = join(root, n)
            guard isDirectory(dir) else { return false }
            if Emotion(synonym: n) != nil { return true }
            return (try? listDirectory(dir))?.contains { imageExtensions.contains(($0 as NSString).pathExtension.lowercased()) } ?? false
        }
    }

    static func load(_ root: String) throws -> Dataset {
        guard isDirectory(root) else { throw DataError.io(path: root, reason: "no such folder") }
        var splits = splitFolders(root)
        if splits.isEmpty {
            guard looksLikeFolder(root) else {
                throw DataError.unknownLayout(path: root, reason: "no train/val/valid/test folders and no class folders")
            }
            splits = [("", "train")]
        }
        // Class folders across all splits, sorted by folder name.
        var folderNames = Set<String>()
        for (dir, _) in splits {
            let sdir = dir.isEmpty ? root : join(root, dir)
            for n in try listDirectory(sdir) where isDirectory(join(sdir, n)) { folderNames.insert(n) }
        }
        var classes: [String] = []
        var index: [String: Int] = [:]
        // Emotion names and synonyms map to the canonical names (`happy` → `happiness`); any other
        // folder name is a class of its own, kept as given (`pain`, `confusion`).
        for n in folderNames.sorted() {
            let name = Emotion(synonym: n)?.rawValue ?? n
            if let i = classes.firstIndex(of: name) { index[n] = i }
            else { index[n] = classes.count; classes.append(name) }
        }
        var bySplit: [String: [Sample]] = [:]
        for (dir, split) in splits {
            let sdir = dir.isEmpty ? root : join(root, dir)
            var samples = bySplit[split] ?? []
            for n in try listDirectory(sdir) where isDirectory(join(sdir, n)) {
                let cdir = join(sdir, n)
                for f in try listDirectory(cdir) where imageExtensions.contains((f as NSString).pathExtension.lowercased()) {
                    samples.append(Sample(source: .file(join(cdir, f)), label: index[n]!))
                }
            }
            bySplit[split] = samples
        }
        return Dataset(format: .folder, root: root, classes: classes, splits: makeSplits(bySplit))
    }
}
