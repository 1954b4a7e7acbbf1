import ArgumentParser
import ADNNData
import Foundation

/// `adnn preprocess`: writes a folder-format (ImageFolder) PNG copy of a dataset, optionally
/// with CLAHE and a square resize. Face detection and alignment are not part of this step yet.
struct PreprocessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preprocess",
        abstract: "Write a folder-format PNG copy of a dataset (optional CLAHE and resize).",
        discussion: """
            Output: OUT/<split>/<class>/<name>.png with canonical class names, readable with \
            --data OUT. Images that fail to decode are skipped with a warning and counted.
            """)

    @OptionGroup var source: DatasetSourceOptions

    @Option(help: "Output folder (created).")
    var out: String

    @Option(help: "Resize to SIZE×SIZE (bicubic, antialiased when shrinking); default keeps the size.")
    var size: Int?

    @Flag(help: "Apply CLAHE (clip 2.0, 8×8 tiles; on L of Lab for colour).")
    var clahe = false

    @Option(help: "Output channels: 1 (gray) or 3 (RGB); default keeps each image's own.")
    var channels: Int?

    @Option(help: "Worker threads.")
    var workers: Int = 2

    @Flag(help: "Detect faces with RetinaFace and write SPEC §6 aligned crops (eye line level, 1.3× square, bicubic).")
    var align = false

    @Option(help: "RetinaFace weights for --align (default: ADNN_RETINAFACE or ../shared/models/retinaface_mobilenet0.25.safetensors).")
    var detector: String?

    func run() throws {
        let fmt = try source.layout()
        if let s = size, s <= 0 || s > 4096 { throw ValidationError("--size must be 1…4096") }
        if let c = channels, c != 1 && c != 3 { throw ValidationError("--channels must be 1 or 3") }
        if align { try runAligned(format: fmt); return }
        let dataset = try Dataset.load(source.data, options: DatasetOptions(format: fmt, numClasses: source.numClasses))
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: out, withIntermediateDirectories: true) }
        catch { throw DataError.io(path: out, reason: "cannot create folder") }
        let start = Date()
        var written = 0, failed = 0
        for name in dataset.splitNames {
            let split = try dataset.split(name)
            for cls in dataset.classes {
                let dir = (out as NSString).appendingPathComponent("\(name)/\(cls)")
                do { try fm.createDirectory(atPath: dir, withIntermediateDirectories: true) }
                catch { throw DataError.io(path: dir, reason: "cannot create folder") }
            }
            let (w, f) = try convert(dataset, split)
            written += w; failed += f
        }
        let secs = Date().timeIntervalSince(start)
        print("wrote \(written) images to \(out) in \(String(format: "%.1f", secs)) s; skipped \(dataset.skipped.count)"
              + (failed > 0 ? " (\(failed) failed to decode)" : ""))
    }

    /// Converts one split on `workers` threads; returns (written, failed).
    private func convert(_ dataset: Dataset, _ split: DatasetSplit) throws -> (Int, Int) {
        final class State: @unchecked Sendable {
            var next = 0, written = 0, failed = 0
            var error: Error?
            let lock = NSLock()
        }
        let state = State()
        let n = split.samples.count
        let group = DispatchGroup()
        let names = outputNames(split)
        for _ in 0..<max(1, min(workers, n)) {
            group.enter()
            let t = Thread {
                while true {
                    state.lock.lock()
                    if state.next >= n || state.error != nil { state.lock.unlock(); break }
                    let i = state.next
                    state.next += 1
                    state.lock.unlock()
                    let sample = split.samples[i]
                    var image: PixelImage
                    do { image = try dataset.loadImage(sample) } catch {
                        let path = sample.source.path ?? dataset.root
                        var reason = "\(error)"
                        if reason.hasPrefix(path + ": ") { reason = String(reason.dropFirst(path.count + 2)) }
                        dataset.recordSkipped(SkippedItem(path: path, reason: reason))
                        FileHandle.standardError.write("warning: skipping \(path): \(reason)\n".data(using: .utf8)!)
                        state.lock.lock(); state.failed += 1; state.lock.unlock()
                        continue
                    }
                    if let c = channels { image = image.converted(toChannels: c) }
                    if clahe { image = CLAHE().apply(to: image) }
                    if let s = size { image = image.resized(width: s, height: s, mode: .bicubic) }
                    let dest = (out as NSString).appendingPathComponent("\(split.name)/\(dataset.classes[sample.label])/\(names[i])")
                    do { try savePNG(image, to: dest) } catch {
                        state.lock.lock(); state.error = error; state.lock.unlock()
                        break
                    }
                    state.lock.lock(); state.written += 1; state.lock.unlock()
                }
                group.leave()
            }
            t.stackSize = 1 << 22
            t.start()
        }
        group.wait()
        if let e = state.error { throw e }
        return (state.written, state.failed)
    }

    /// Output file names: the source file's stem (made unique), or `<split>_<index>` for
    /// in-memory and synthetic samples.
    private func outputNames(_ split: DatasetSplit) -> [String] {
        var used = Set<String>()
        return split.samples.enumerated().map { i, s in
            var stem: String
            if let p = s.source.path { stem = ((p as NSString).lastPathComponent as NSString).deletingPathExtension }
            else { stem = String(format: "%@_%06d", split.name, i) }
            let key = "\(s.label)/\(stem)"
            if used.contains(key) { stem += "_\(i)" }
            used.insert("\(s.label)/\(stem)")
            return stem + ".png"
        }
    }

    /// `--align`: a data set keeps its layout (best face per image); a plain folder of photos gives
    /// `OUT/<stem>_<k>.png` for every face found. Photos without a face are listed, never dropped silently.
    private func runAligned(format fmt: DatasetFormat?) throws {
        let cropper: FaceCropper
        do { cropper = try FaceCropper(weights: detector ?? defaultDetectorPath()) } catch { throw DataError.io(path: detector ?? defaultDetectorPath(), reason: "\(error)") }
        let side = size ?? 224
        let fm = FileManager.default
        try? fm.createDirectory(atPath: out, withIntermediateDirectories: true)
        var jobs: [(source: String, dests: (Int) -> String, allFaces: Bool)] = []
        var loadImageFor: [String: () throws -> PixelImage] = [:]
        if let dataset = try? Dataset.load(source.data, options: DatasetOptions(format: fmt, numClasses: source.numClasses)), dataset.format != .synthetic {
            for name in dataset.splitNames {
                let split = try dataset.split(name)
                let names = outputNames(split)
                for (i, sample) in split.samples.enumerated() {
                    let dir = (out as NSString).appendingPathComponent("\(split.name)/\(dataset.classes[sample.label])")
                    try? fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
                    let key = "\(name)#\(i)"
                    loadImageFor[key] = { try dataset.loadImage(sample) }
                    jobs.append((key, { _ in (dir as NSString).appendingPathComponent(names[i]) }, false))
                }
            }
        } else {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: source.data, isDirectory: &isDir), isDir.boolValue else {
                throw DataError.io(path: source.data, reason: "no such folder")
            }
            let files = try fm.contentsOfDirectory(atPath: source.data).filter {
                ["jpg", "jpeg", "png"].contains(($0 as NSString).pathExtension.lowercased())
            }.sorted()
            for f in files {
                let path = (source.data as NSString).appendingPathComponent(f)
                let stem = (f as NSString).deletingPathExtension
                loadImageFor[path] = { try loadImage(path) }
                jobs.append((path, { k in (out as NSString).appendingPathComponent("\(stem)_\(k).png") }, true))
            }
        }
        var written = 0, noFace: [String] = [], failed = 0
        let start = Date()
        for job in jobs {
            let image: PixelImage
            do { image = try loadImageFor[job.source]!() } catch {
                FileHandle.standardError.write("warning: skipping \(job.source): \(error)\n".data(using: .utf8)!)
                failed += 1; continue
            }
            var faces = cropper.faces(in: image, size: side)
            if faces.isEmpty { noFace.append(job.source); continue }
            if !job.allFaces { faces = [faces[0]] }
            for (k, f) in faces.enumerated() {
                var crop = f.crop
                if let c = channels { crop = crop.converted(toChannels: c) }
                if clahe { crop = CLAHE().apply(to: crop) }
                try savePNG(crop, to: job.dests(k))
                written += 1
            }
        }
        print("wrote \(written) aligned face crops to \(out) in \(String(format: "%.1f", Date().timeIntervalSince(start))) s" +
              (failed > 0 ? "; \(failed) images failed to decode" : ""))
        if !noFace.isEmpty {
            print("no face found in \(noFace.count) image(s):")
            for p in noFace { print("  \(p)") }
        }
    }
}
