import Foundation
import ADNN
import ADNNData
import ADNNKernels

/// `adnn preprocess`: a folder-format (ImageFolder) PNG copy of a data set, optionally with CLAHE, a
/// square resize and face alignment.
public struct PreprocessRequest {
    /// Where the data set is, its layout and class count.
    public var source: DatasetSource
    public var out: String
    public var size: Int?
    public var clahe: Bool
    public var channels: Int?
    public var workers: Int
    public var align: Bool
    public var detector: String?

    public init(source: DatasetSource, out: String, size: Int? = nil, clahe: Bool = false, channels: Int? = nil, workers: Int = 2, align: Bool = false, detector: String? = nil) {
        self.source = source; self.out = out; self.size = size; self.clahe = clahe; self.channels = channels; self.workers = workers; self.align = align; self.detector = detector
    }









    public func run() throws {
        let fmt = try source.layout()
        if let s = size, s <= 0 || s > 4096 { throw ADNNError.invalid("--size must be 1…4096") }
        if let c = channels, c != 1 && c != 3 { throw ADNNError.invalid("--channels must be 1 or 3") }
        guard (1...256).contains(workers) else { throw ADNNError.invalid("--workers \(workers): must be 1…256") }
        // Never write into the input data set.
        let input = URL(fileURLWithPath: source.data).standardizedFileURL.resolvingSymlinksInPath().path
        let output = URL(fileURLWithPath: out).standardizedFileURL.resolvingSymlinksInPath().path
        if output == input || output.hasPrefix(input + "/") {
            throw ADNNError.invalid("--out \(out): lies inside the input data set \(source.data); choose a folder outside it")
        }
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
