import Foundation

/// One batch, channels-last: `images` holds `count × height × width × channels` floats.
public struct Batch: Sendable {
    /// Normalised pixels `[count, height, width, channels]`.
    public var images: [Float]
    /// Batch size.
    public var count: Int
    public var height: Int
    public var width: Int
    public var channels: Int
    /// Number of classes (for `softTargets`).
    public var numClasses: Int
    /// Label of each sample (the λ-weighted one under mixup).
    public var labels: [Int]
    /// Label mixed in with weight `1 − mixLambda` (equal to `labels` without mixup).
    public var mixLabels: [Int]
    /// Weight of `labels` (1 without mixup).
    public var mixLambda: Float
    /// Index of each sample in the split.
    public var indices: [Int]
    /// Label distributions `[count, numClasses]` (`λ·p(sample) + (1 − λ)·p(partner)` under mixup) when
    /// the loader was asked for soft labels (`LoaderOptions.softLabels`); `nil` otherwise.
    public var distributions: [Float]?

    /// `[count, height, width, channels]`.
    public var shape: [Int] { [count, height, width, channels] }

    /// Whether mixup was applied.
    public var isMixed: Bool { mixLambda < 1 }

    /// Per sample, the label carrying weight ≥ 0.5 (for center loss under mixup).
    public var dominantLabels: [Int] { mixLambda >= 0.5 ? labels : mixLabels }

    /// Soft targets `[count, numClasses]`: `distributions` when present, else
    /// `λ·onehot(labels) + (1 − λ)·onehot(mixLabels)`.
    public var softTargets: [Float] {
        if let distributions { return distributions }
        var t = [Float](repeating: 0, count: count * numClasses)
        for i in 0..<count {
            t[i * numClasses + labels[i]] += mixLambda
            t[i * numClasses + mixLabels[i]] += 1 - mixLambda
        }
        return t
    }
}

/// When the loader keeps decoded images in memory.
public enum CachePolicy: Sendable, Equatable {
    /// Cache when the prepared images are estimated to fit in `maxBytes`.
    case auto(maxBytes: Int)
    /// Always decode once and cache.
    case always
    /// Decode on every use.
    case never
}

/// Options of `DataLoader`.
public struct LoaderOptions: Sendable {
    /// Samples per batch.
    public var batchSize: Int
    /// Shuffle every epoch (seeded by `seed` and the epoch).
    public var shuffle: Bool
    /// Drop the last incomplete batch.
    public var dropLast: Bool
    /// Class-balanced sampling: each epoch draws `count` samples with replacement, with
    /// probability ∝ 1 / (size of the sample's class).
    public var balanced: Bool
    /// Worker threads that decode, augment and collate.
    public var workers: Int
    /// Batches prepared ahead of the consumer (bounded queue).
    public var prefetch: Int
    /// Seed of shuffling, sampling and augmentation.
    public var seed: UInt64
    /// Decode-once caching.
    public var cache: CachePolicy
    /// Print a warning line to stderr for every skipped (corrupt) image.
    public var warn: Bool
    /// Data-parallel sharding: this process builds only part `shardRank` of `shardCount` of every
    /// batch (contiguous, sizes differing by at most one: positions `lo + m·r/n ..< lo + m·(r+1)/n` of
    /// a batch of `m` positions starting at `lo`). The epoch order and every sample's augmentation are
    /// those of one process (keyed by position), so the parts of all ranks are exactly the batch one
    /// process builds — mixup included (a part renders its samples' partners again). `(0, 1)`: the whole batch.
    public var shardRank = 0, shardCount = 1
    /// Fill `Batch.distributions` from the samples' label distributions (`Sample.distribution`; a sample
    /// without one counts as one-hot on its label).
    public var softLabels = false

    public init(batchSize: Int = 32, shuffle: Bool = true, dropLast: Bool = false, balanced: Bool = false,
                workers: Int = 2, prefetch: Int = 4, seed: UInt64 = 42, cache: CachePolicy = .auto(maxBytes: 1 << 30),
                warn: Bool = true) {
        self.batchSize = batchSize; self.shuffle = shuffle; self.dropLast = dropLast; self.balanced = balanced
        self.workers = workers; self.prefetch = prefetch; self.seed = seed; self.cache = cache; self.warn = warn
    }
}

/// Prepared 8-bit images of a split, packed in one buffer.
final class ImageCache: @unchecked Sendable {
    struct Entry { var offset: Int; var width: Int; var height: Int; var channels: Int }
    let pixels: [UInt8]
    let entries: [Entry]

    init(pixels: [UInt8], entries: [Entry]) {
        self.pixels = pixels; self.entries = entries
    }
}

/// Shuffles, decodes, augments and batches one split on worker threads.
///
/// Deterministic: epoch `e` has a fixed sample order (from `seed` and `e`) and every sample's
/// augmentation comes from its own generator seeded by `(seed, e, position, index)`, so the
/// batches do not depend on thread timing or the number of workers. Mixup uses a generator per
/// batch. A sample whose image fails to decode is reported once (stderr warning and
/// `Dataset.skipped`) and replaced by the next sample of the epoch order.
public final class DataLoader: @unchecked Sendable {
    /// The dataset read from.
    public let dataset: Dataset
    /// The split name.
    public let splitName: String
    /// Preprocessing and output geometry.
    public let transform: TransformConfig
    /// Augmentation (`nil` for evaluation).
    public let augment: AugmentConfig?
    /// Loader options.
    public let options: LoaderOptions
    private(set) var samples: [Sample]
    private var cache: ImageCache?
    private var bad = Set<Int>()
    private let badLock = NSLock()

    /// Set when no sample of the split can be decoded: the batches then carry blank images and the
    /// consumer must stop (the trainer and evaluation turn it into an error naming the split).
    public var failure: String? {
        badLock.lock(); defer { badLock.unlock() }
        return bad.count >= samples.count ? "\(dataset.root): no image of split \(splitName) can be decoded (\(bad.count) tried)" : nil
    }

    /// Samples in the split (after removing images that failed while caching).
    public var count: Int { samples.count }
    /// Whether decoded images are held in memory.
    public var isCached: Bool { cache != nil }
    /// Batches per epoch.
    public var batchesPerEpoch: Int {
        options.dropLast ? count / options.batchSize : (count + options.batchSize - 1) / options.batchSize
    }
    /// Examples per class in the split.
    public var classCounts: [Int] {
        var c = [Int](repeating: 0, count: dataset.numClasses)
        for s in samples { c[s.label] += 1 }
        return c
    }
    /// Labels of the split, in order.
    public var labels: [Int] { samples.map(\.label) }

    /// Builds a loader; with caching, decodes and prepares every image now (on `workers`
    /// threads), skipping — with a warning — those that fail.
    /// - Throws: `DataError.invalid` for bad options, a missing split or an empty split.
    public init(dataset: Dataset, split: String, transform: TransformConfig, augment: AugmentConfig?,
                options: LoaderOptions = .init()) throws {
        try transform.validate()
        try augment?.validate()
        guard options.batchSize > 0 else { throw DataError.invalid(key: "data.batch_size", reason: "must be positive") }
        guard options.shardCount > 0, (0..<options.shardCount).contains(options.shardRank) else {
            throw DataError.invalid(key: "loader shard", reason: "rank \(options.shardRank) of \(options.shardCount) is not a part")
        }
        self.dataset = dataset
        self.splitName = split
        self.transform = transform
        self.augment = augment
        var opts = options
        opts.workers = max(1, options.workers)
        opts.prefetch = max(1, options.prefetch)
        self.options = opts
        self.samples = try dataset.split(split).samples
        guard !samples.isEmpty else { throw DataError.invalid(key: "\(dataset.root) split \(split)", reason: "has no samples") }
        if try shouldCache() { buildCache() }
    }

    private func shouldCache() throws -> Bool {
        switch options.cache {
        case .never: return false
        case .always: return true
        case .auto(let maxBytes):
            // Estimate from a few prepared images spread over the split.
            let probes = Swift.min(samples.count, 8)
            var bytes = 0, seen = 0
            for k in 0..<probes {
                let s = samples[k * samples.count / probes]
                if let img = try? dataset.loadImage(s) { bytes += transform.prepare(img).count; seen += 1 }
            }
            guard seen > 0 else { return false }
            return bytes / seen * samples.count <= maxBytes
        }
    }

    private func buildCache() {
        let n = samples.count, workers = options.workers
        final class Parts: @unchecked Sendable {
            var items: [([UInt8], [ImageCache.Entry?], [Int: String])]
            let lock = NSLock()
            init(_ n: Int) { items = .init(repeating: ([], [], [:]), count: n) }
        }
        let box = Parts(workers)
        let chunk = (n + workers - 1) / workers
        let group = DispatchGroup()
        for w in 0..<workers {
            let lo = w * chunk, hi = Swift.min(n, lo + chunk)
            if lo >= hi { continue }
            group.enter()
            let thread = Thread { [self] in
                var px: [UInt8] = []
                var entries: [ImageCache.Entry?] = []
                var failures: [Int: String] = [:]
                entries.reserveCapacity(hi - lo)
                for i in lo..<hi {
                    do {
                        let img = transform.prepare(try dataset.loadImage(samples[i]))
                        entries.append(.init(offset: px.count, width: img.width, height: img.height, channels: img.channels))
                        px.append(contentsOf: img.pixels)
                    } catch {
                        entries.append(nil)
                        failures[i] = "\(error)"
                    }
                }
                box.lock.lock(); box.items[w] = (px, entries, failures); box.lock.unlock()
                group.leave()
            }
            thread.stackSize = 1 << 22
            thread.start()
        }
        group.wait()
        let parts = box.items
        var pixels: [UInt8] = []
        pixels.reserveCapacity(parts.reduce(0) { $0 + $1.0.count })
        var entries: [ImageCache.Entry] = []
        var kept: [Sample] = []
        var dropIndex = Set<Int>()
        for (w, part) in parts.enumerated() {
            let base = pixels.count
            pixels.append(contentsOf: part.0)
            for (k, e) in part.1.enumerated() {
                let i = w * chunk + k
                if var e = e { e.offset += base; entries.append(e); kept.append(samples[i]) }
                else {
                    dropIndex.insert(i)
                    report(samples[i], part.2[i] ?? "cannot decode")
                }
            }
        }
        if !dropIndex.isEmpty { dataset.removeSamples(split: splitName) { dropIndex.contains($0) } }
        samples = kept
        cache = ImageCache(pixels: pixels, entries: entries)
    }

    private func report(_ s: Sample, _ reason: String) {
        let path = s.source.path ?? "\(dataset.root) sample"
        let short = reason.hasPrefix(path + ": ") ? String(reason.dropFirst(path.count + 2)) : reason
        dataset.recordSkipped(SkippedItem(path: path, reason: short))
        if options.warn { FileHandle.standardError.write("warning: skipping \(path): \(short)\n".data(using: .utf8)!) }
    }

    /// The sample order of epoch `epoch` (indices into the split; with replacement when balanced).
    public func order(epoch: Int) -> [Int] {
        let n = samples.count
        var rng = DataRNG(seed: options.seed, UInt64(epoch), 0x5EED)
        if options.balanced {
            var perClass = [Int](repeating: 0, count: dataset.numClasses)
            for s in samples { perClass[s.label] += 1 }
            var cumulative = [Double](repeating: 0, count: n)
            var acc = 0.0
            for (i, s) in samples.enumerated() { acc += 1 / Double(perClass[s.label]); cumulative[i] = acc }
            return (0..<n).map { _ in
                let r = rng.uniform() * acc
                var lo = 0, hi = n - 1
                while lo < hi { let mid = (lo + hi) / 2; if cumulative[mid] > r { hi = mid } else { lo = mid + 1 } }
                return lo
            }
        }
        return options.shuffle ? rng.permutation(n) : Array(0..<n)
    }

    /// The batches of epoch `epoch`, produced by worker threads ahead of the consumer.
    /// Abandoning the sequence early stops the workers.
    public func batches(epoch: Int) -> BatchSequence {
        BatchSequence(run: LoaderRun(loader: self, epoch: epoch))
    }

    /// Renders one sample (by split index) without augmentation, e.g. for inspection.
    public func renderSample(_ index: Int) throws -> [Float] {
        let renderer = SampleRenderer(transform: transform, augment: nil)
        var out = [Float](repeating: 0, count: transform.size * transform.size * transform.channels)
        var rng = DataRNG(seed: 0)
        try withPrepared(index) { p, w, h, c in
            out.withUnsafeMutableBufferPointer { o in
                renderer.render(p, width: w, height: h, channels: c, into: o.baseAddress!, rng: &rng)
            }
        }
        return out
    }

    /// Calls `body(pixels, width, height, channels)` with the prepared image of sample `index`.
    func withPrepared(_ index: Int, _ body: (UnsafePointer<UInt8>, Int, Int, Int) throws -> Void) throws {
        if let cache {
            let e = cache.entries[index]
            try cache.pixels.withUnsafeBufferPointer { try body($0.baseAddress! + e.offset, e.width, e.height, e.channels) }
            return
        }
        let img = transform.prepare(try dataset.loadImage(samples[index]))
        try img.pixels.withUnsafeBufferPointer { try body($0.baseAddress!, img.width, img.height, img.channels) }
    }

    /// Builds batch `b` of an epoch order (called on worker threads).
    func makeBatch(_ b: Int, order: [Int], epoch: Int, renderer: SampleRenderer) -> Batch {
        let bs = options.batchSize
        let first = b * bs, len = Swift.min(order.count, first + bs) - first
        // This process's part of the batch (all of it without sharding).
        let lo = first + len * options.shardRank / options.shardCount
        let hi = first + len * (options.shardRank + 1) / options.shardCount
        let m = hi - lo
        let S = transform.size, c = transform.channels, plane = S * S * c
        var labels = [Int](repeating: 0, count: m), indices = [Int](repeating: 0, count: m)
        var lam: Float = 1
        var mixLabels = labels
        var mixIndices = indices
        /// Renders the sample at `position` of the epoch order into `out` (the next sample of the order
        /// in place of a bad one) and returns the split index it rendered.
        func render(position: Int, into out: UnsafeMutablePointer<Float>) -> Int {
            var index = order[position]
            var rng = DataRNG(seed: options.seed, UInt64(epoch), UInt64(position), UInt64(index))
            var attempts = 0
            while true {
                badLock.lock(); let known = bad.contains(index); badLock.unlock()
                if !known {
                    do {
                        try withPrepared(index) { p, w, h, c in
                            renderer.render(p, width: w, height: h, channels: c, into: out, rng: &rng)
                        }
                        return index
                    } catch {
                        badLock.lock(); let fresh = bad.insert(index).inserted; badLock.unlock()
                        if fresh { report(samples[index], "\(error)") }
                    }
                }
                attempts += 1
                if attempts > samples.count { break }   // every sample is bad: `failure` says so
                index = (index + 1) % samples.count
                rng = DataRNG(seed: options.seed, UInt64(epoch), UInt64(position), UInt64(index))
            }
            out.initialize(repeating: 0, count: plane)
            return index
        }
        // Every element is written by `render` (its normalisation pass covers the whole plane).
        let images = [Float](unsafeUninitializedCapacity: m * plane) { buf, initialized in
            for k in 0..<m {
                indices[k] = render(position: lo + k, into: buf.baseAddress! + k * plane)
                labels[k] = samples[indices[k]].label
            }
            mixLabels = labels
            mixIndices = indices
            // Mixup: sample j of the batch is blended with sample len−1−j (λ·own + (1−λ)·partner).
            if let a = augment, a.mixup > 0, len > 1 {
                var rng = DataRNG(seed: options.seed, UInt64(epoch), UInt64(b), 0x313C)
                if rng.bernoulli(a.mixup) {
                    lam = Float(rng.beta(a.mixupAlpha, a.mixupAlpha))
                    if options.shardCount == 1 {
                        // The whole batch is here: in place, pair by pair.
                        for i in 0..<(m / 2) {
                            let p = buf.baseAddress! + i * plane, q = buf.baseAddress! + (m - 1 - i) * plane
                            for t in 0..<plane {
                                let x = p[t], y = q[t]
                                p[t] = lam * x + (1 - lam) * y
                                q[t] = lam * y + (1 - lam) * x
                            }
                        }
                        mixLabels = (0..<m).map { labels[m - 1 - $0] }
                        mixIndices = (0..<m).map { indices[m - 1 - $0] }
                    } else {
                        // A part: the partners may belong to other ranks, so each is rendered here again
                        // (same generator, same pixels) and blended exactly as one process blends them.
                        let partner = UnsafeMutablePointer<Float>.allocate(capacity: plane)
                        defer { partner.deallocate() }
                        for k in 0..<m {
                            let j = lo + k - first, pj = len - 1 - j
                            if pj == j { continue }              // the middle sample of an odd batch stays
                            let partnerIndex = render(position: first + pj, into: partner)
                            let p = buf.baseAddress! + k * plane
                            for t in 0..<plane { p[t] = lam * p[t] + (1 - lam) * partner[t] }
                            mixLabels[k] = samples[partnerIndex].label
                            mixIndices[k] = partnerIndex
                        }
                    }
                }
            }
            initialized = m * plane
        }
        var distributions: [Float]? = nil
        if options.softLabels {
            let k = dataset.numClasses
            var d = [Float](repeating: 0, count: m * k)
            func add(_ index: Int, weight: Float, row: Int) {
                if let p = samples[index].distribution, p.count == k {
                    for j in 0..<k { d[row * k + j] += weight * p[j] }
                } else {
                    d[row * k + samples[index].label] += weight
                }
            }
            for r in 0..<m {
                add(indices[r], weight: lam, row: r)
                if lam < 1 { add(mixIndices[r], weight: 1 - lam, row: r) }
            }
            distributions = d
        }
        return Batch(images: images, count: m, height: S, width: S, channels: c, numClasses: dataset.numClasses,
                     labels: labels, mixLabels: mixLabels, mixLambda: lam, indices: indices, distributions: distributions)
    }
}

/// Shared state of one epoch: workers claim batch numbers, the consumer takes them in order.
final class LoaderRun: @unchecked Sendable {
    let loader: DataLoader
    let epoch: Int
    let order: [Int]
    let total: Int
    private let cond = NSCondition()
    private var nextToBuild = 0
    private var nextToTake = 0
    private var ready: [Int: Batch] = [:]
    private var cancelled = false
    private var started = false
    private var running = 0

    init(loader: DataLoader, epoch: Int) {
        self.loader = loader
        self.epoch = epoch
        self.order = loader.order(epoch: epoch)
        self.total = loader.batchesPerEpoch
    }

    func start() {
        cond.lock()
        if started { cond.unlock(); return }
        started = true
        let workers = Swift.min(loader.options.workers, Swift.max(1, total))
        running = workers
        cond.unlock()
        for _ in 0..<workers {
            let t = Thread { [self] in work() }
            t.stackSize = 1 << 22
            t.start()
        }
    }

    private func work() {
        let renderer = SampleRenderer(transform: loader.transform, augment: loader.augment)
        while true {
            cond.lock()
            while !cancelled && nextToBuild < total && nextToBuild >= nextToTake + loader.options.prefetch { cond.wait() }
            if cancelled || nextToBuild >= total {
                running -= 1; cond.broadcast(); cond.unlock(); return
            }
            let b = nextToBuild
            nextToBuild += 1
            cond.unlock()
            let batch = loader.makeBatch(b, order: order, epoch: epoch, renderer: renderer)
            cond.lock()
            ready[b] = batch
            cond.broadcast()
            cond.unlock()
        }
    }

    func next() -> Batch? {
        start()
        cond.lock()
        defer { cond.unlock() }
        if nextToTake >= total { return nil }
        while ready[nextToTake] == nil { cond.wait() }
        let batch = ready.removeValue(forKey: nextToTake)!
        nextToTake += 1
        cond.broadcast()
        return batch
    }

    func cancel() {
        cond.lock()
        cancelled = true
        cond.broadcast()
        while running > 0 { cond.wait() }
        cond.unlock()
    }
}

/// The batches of one epoch, in order. Iterating starts the workers; dropping the sequence (or
/// its iterator) before the end stops them.
public final class BatchSequence: Sequence, IteratorProtocol {
    private let run: LoaderRun

    init(run: LoaderRun) { self.run = run }
    deinit { run.cancel() }

    /// Number of batches in the epoch.
    public var count: Int { run.total }

    public func next() -> Batch? { run.next() }

    public func makeIterator() -> BatchSequence { self }
}
