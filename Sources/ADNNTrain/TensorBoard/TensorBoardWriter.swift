import Foundation

/// One scalar of a TensorBoard event file.
public struct TensorBoardScalar: Equatable, Sendable {
    public var tag: String
    public var step: Int
    public var wallTime: Double
    public var value: Float
    public init(tag: String, step: Int, wallTime: Double, value: Float) {
        self.tag = tag; self.step = step; self.wallTime = wallTime; self.value = value
    }
}

/// Writes TensorBoard scalar event files, `events.out.tfevents.<unix time>.<hostname>`: TFRecord
/// framing (``TFRecord``) around hand-encoded `tensorflow.Event` protocol buffers. The first event
/// carries `file_version: "brain.Event:2"`; every scalar is an event with `wall_time` (field 1),
/// `step` (field 2) and `summary` (field 5) → `value` (1) → `{tag (1), simple_value (2)}`.
///
/// Scalars are buffered by ``add(scalar:tag:step:wallTime:)`` and appended to the file by
/// ``flush()`` (``logEpoch(_:step:wallTime:)`` does both), so `tensorboard --logdir runs` sees every
/// completed epoch of a running job.
public final class TensorBoardWriter {
    /// The event file.
    public let path: String
    private var pending: [UInt8] = []
    private let handle: FileHandle

    /// Creates a new event file in `logDir` (created if missing). When a file of the same second and
    /// host exists, a `.1`, `.2`, … suffix keeps both.
    /// - Throws: `ReportError` naming the folder or file when it cannot be created.
    public init(logDir: String, wallTime: Double = Date().timeIntervalSince1970) throws {
        do {
            try FileManager.default.createDirectory(atPath: logDir, withIntermediateDirectories: true)
        } catch {
            throw ReportError("\(logDir): cannot create the log folder: \(error.localizedDescription)")
        }
        let host = ProcessInfo.processInfo.hostName.replacingOccurrences(of: "/", with: "_")
        let base = (logDir as NSString).appendingPathComponent("events.out.tfevents.\(Int(wallTime)).\(host)")
        var candidate = base, k = 1
        while FileManager.default.fileExists(atPath: candidate) { candidate = base + ".\(k)"; k += 1 }
        guard FileManager.default.createFile(atPath: candidate, contents: nil),
              let h = FileHandle(forWritingAtPath: candidate) else {
            throw ReportError("\(candidate): cannot create the event file")
        }
        path = candidate
        handle = h
        var e = ProtoWriter()
        e.double(1, wallTime)
        e.string(3, "brain.Event:2")
        pending = TFRecord.frame(e.bytes)
        try flush()
    }

    deinit { try? handle.close() }

    /// The serialized `tensorflow.Event` of one scalar.
    public static func scalarEvent(_ s: TensorBoardScalar) -> [UInt8] {
        var value = ProtoWriter()
        value.string(1, s.tag)
        value.float(2, s.value)
        var summary = ProtoWriter()
        summary.lengthDelimited(1, value.bytes)
        var e = ProtoWriter()
        e.double(1, s.wallTime)
        e.int64(2, Int64(s.step))
        e.lengthDelimited(5, summary.bytes)
        return e.bytes
    }

    /// Buffers one scalar (written by the next ``flush()``).
    public func add(scalar: Float, tag: String, step: Int, wallTime: Double = Date().timeIntervalSince1970) {
        pending += TFRecord.frame(Self.scalarEvent(TensorBoardScalar(tag: tag, step: step, wallTime: wallTime, value: scalar)))
    }

    /// Appends the buffered events to the file.
    /// - Throws: `ReportError` naming the file when the write fails.
    public func flush() throws {
        guard !pending.isEmpty else { return }
        do {
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(pending))
        } catch {
            throw ReportError("\(path): cannot write: \(error.localizedDescription)")
        }
        pending.removeAll(keepingCapacity: true)
    }

    /// Logs one `metrics.jsonl` record and flushes: every numeric key but `epoch` becomes a scalar
    /// tagged ``tag(forKey:)``; the step is `step`, else the record's `epoch`, else 0.
    /// - Returns: the number of scalars written.
    @discardableResult
    public func logEpoch(_ record: [String: Any], step: Int? = nil, wallTime: Double = Date().timeIntervalSince1970) throws -> Int {
        let s = step ?? record["epoch"].flatMap(JSONFiles.number).map { Int($0) } ?? 0
        var n = 0
        for (key, value) in Self.scalars(of: record) {
            add(scalar: value, tag: Self.tag(forKey: key), step: s, wallTime: wallTime); n += 1
        }
        try flush()
        return n
    }

    /// Logs an encodable per-epoch record (the trainer's `EpochRecord`) through its JSON keys, as
    /// written to `metrics.jsonl`; see ``logEpoch(_:step:wallTime:)``.
    @discardableResult
    public func logEpoch<R: Encodable>(encoding record: R, step: Int? = nil,
                                       wallTime: Double = Date().timeIntervalSince1970) throws -> Int {
        let data = try JSONEncoder().encode(record)
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ReportError("logEpoch: the record does not encode to a JSON object")
        }
        return try logEpoch(object, step: step, wallTime: wallTime)
    }

    /// The numeric fields of a record, sorted by key, without `epoch` (booleans are skipped).
    public static func scalars(of record: [String: Any]) -> [(key: String, value: Float)] {
        record.keys.sorted().compactMap { key -> (String, Float)? in
            guard key != "epoch", let v = record[key].flatMap(JSONFiles.number) else { return nil }
            return (key, Float(v))
        }
    }

    /// The TensorBoard tag of a `metrics.jsonl` key, grouped by prefix: `loss` → `loss/total`,
    /// `loss_ce` → `loss/ce`, `val_loss` → `loss/val`, `train_accuracy` → `train/accuracy`,
    /// `val_macro_f1` → `val/macro_f1`, `lr` → `lr`, `images_per_second` → `speed/images_per_second`,
    /// `seconds` → `speed/seconds`; any other key is its own tag.
    public static func tag(forKey key: String) -> String {
        switch key {
        case "loss": return "loss/total"
        case "val_loss": return "loss/val"
        case "images_per_second", "seconds": return "speed/" + key
        default:
            for prefix in ["loss_", "train_", "val_"] where key.hasPrefix(prefix) && key.count > prefix.count {
                return String(prefix.dropLast()) + "/" + key.dropFirst(prefix.count)
            }
            return key
        }
    }

    /// Converts an existing run folder's `metrics.jsonl` to a new event file in the folder. Wall
    /// times are reconstructed from the file's modification time and the epochs' `seconds`.
    /// - Parameter replace: remove the folder's existing `events.out.tfevents.*` files first;
    ///   without it an existing event file is an error (nothing is silently overwritten).
    /// - Returns: the event file and the number of scalars written.
    @discardableResult
    public static func exportTensorBoard(runDir: String, replace: Bool = false) throws -> (path: String, scalars: Int) {
        let metrics = (runDir as NSString).appendingPathComponent("metrics.jsonl")
        let records = try JSONFiles.readJSONLines(metrics)
        guard !records.isEmpty else { throw ReportError("\(metrics): no epochs to export") }
        let existing = eventFiles(in: runDir)
        if !existing.isEmpty {
            guard replace else {
                throw ReportError("\(existing[0]): an event file exists already (pass replace/--force to rewrite it)")
            }
            for f in existing { try? FileManager.default.removeItem(atPath: f) }
        }
        let total = records.reduce(0.0) { $0 + ($1["seconds"].flatMap(JSONFiles.number) ?? 0) }
        let modified = (try? FileManager.default.attributesOfItem(atPath: metrics)[.modificationDate] as? Date)?
            .timeIntervalSince1970 ?? Date().timeIntervalSince1970
        var clock = modified - total
        let writer = try TensorBoardWriter(logDir: runDir, wallTime: clock)
        var n = 0
        for (i, r) in records.enumerated() {
            clock += r["seconds"].flatMap(JSONFiles.number) ?? 0
            n += try writer.logEpoch(r, step: r["epoch"].flatMap(JSONFiles.number).map { Int($0) } ?? i + 1, wallTime: clock)
        }
        return (writer.path, n)
    }

    /// The `events.out.tfevents.*` files directly in `dir`, sorted.
    public static func eventFiles(in dir: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { $0.hasPrefix("events.out.tfevents.") }.sorted().map { (dir as NSString).appendingPathComponent($0) }
    }
}

/// Reads TensorBoard event files (TFRecord framing with CRC checks, `tensorflow.Event` scalars).
public enum TensorBoardReader {
    /// The contents of one event file: its `file_version` and every `simple_value` scalar in order.
    public struct EventFile {
        public var fileVersion: String?
        public var scalars: [TensorBoardScalar]
    }

    /// Reads `path`.
    /// - Throws: `ReportError` naming the file on a bad frame, CRC or message.
    public static func read(_ path: String) throws -> EventFile {
        guard let data = FileManager.default.contents(atPath: path) else { throw ReportError("\(path): cannot read") }
        return try parse([UInt8](data), name: path)
    }

    /// Parses the bytes of an event file (`name` is used in errors).
    public static func parse(_ bytes: [UInt8], name: String) throws -> EventFile {
        var out = EventFile(fileVersion: nil, scalars: [])
        for record in try TFRecord.records(bytes, name: name) {
            var wall = 0.0, step = 0
            var summaries: [[UInt8]] = []
            for (field, value) in try decodeProto(record, name: name) {
                switch (field, value) {
                case (1, .fixed64(let b)): wall = Double(bitPattern: b)
                case (2, .varint(let v)): step = Int(truncatingIfNeeded: Int64(bitPattern: v))
                case (3, .bytes(let s)): out.fileVersion = String(decoding: s, as: UTF8.self)
                case (5, .bytes(let s)): summaries.append(s)
                default: break
                }
            }
            for summary in summaries {
                for case (1, .bytes(let v)) in try decodeProto(summary, name: name) {
                    var tag = "", scalar: Float?
                    for (f, x) in try decodeProto(v, name: name) {
                        if f == 1, case .bytes(let t) = x { tag = String(decoding: t, as: UTF8.self) }
                        if f == 2, case .fixed32(let b) = x { scalar = Float(bitPattern: b) }
                    }
                    if let scalar { out.scalars.append(TensorBoardScalar(tag: tag, step: step, wallTime: wall, value: scalar)) }
                }
            }
        }
        return out
    }
}
