// adnn-mpi-check: the multi-process test helper of ADNNDistributed, run under
// `mpirun -np N adnn-mpi-check <mode> ...` by Tests/ADNNDistributedTests and Scripts/mpi_two_hosts.sh.
//
//   collectives  --out DIR [--bucket-bytes 4096]  known buffers through every collective; rank r writes DIR/rank-r.txt
//   equivalence  [--steps 6] [--batch 8] [--samples 21] [--optimizer adamw|sgd] [--input 32] [--out DIR]
//                N ranks with per-rank batch B/N vs one process with batch B (real Trainer objects)
//   bench        [--floats 3379399] [--iters 10]   bucketed allreduce time per "step" (FER recipe size)
//   throughput   [--config Configs/fer2013-cpu.yaml] [--batch 64] [--steps 4]  train steps/s, global batch
//   die          [--rank 1] [--after 3] [--signal 9]  that rank exits (or kills itself) mid-run; the others must end with one clear line
//   compare      --a RUN1/last.safetensors --b RUN2/last.safetensors [--tolerance 1e-5]
//                relative L2 difference of every tensor (optimiser state aside); exit 1 above the tolerance
import Foundation
import ADNN
import ADNNTrain
import ADNNDistributed
import ADNNKernels
import CMPI

/// Command-line options as `--key value` pairs after the mode.
struct Options {
    var values: [String: String] = [:]
    init(_ args: ArraySlice<String>) {
        var it = args.makeIterator()
        while let a = it.next() {
            guard a.hasPrefix("--") else { continue }
            values[String(a.dropFirst(2))] = it.next() ?? ""
        }
    }
    func int(_ k: String, _ d: Int) -> Int { values[k].flatMap { Int($0) } ?? d }
    func string(_ k: String, _ d: String) -> String { values[k] ?? d }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data(("adnn-mpi-check: " + message + "\n").utf8))
    exit(1)
}

/// Writes `text` to `path` atomically.
func write(_ text: String, to path: String) throws {
    let tmp = path + ".tmp-\(getpid())"
    try text.write(toFile: tmp, atomically: false, encoding: .utf8)
    if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
    try FileManager.default.moveItem(atPath: tmp, toPath: path)
}

func format<C: Collection>(_ v: C) -> String where C.Element == Float { v.map { "\($0)" }.joined(separator: " ") }

/// Float buffers allocated for the whole run (they outlive every collective that uses them).
func makeBuffers(_ sizes: [Int], _ value: (Int, Int) -> Float) -> [UnsafeMutableBufferPointer<Float>] {
    sizes.enumerated().map { b, n in
        let p = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
        for i in 0..<n { p[i] = value(b, i) }
        return p
    }
}

// MARK: - collectives

/// Rank r holds known values; the test checks every reduced element against the closed form.
/// Bucket sizes [3, 1000, 7, 2500, 1] through 4 KiB buckets (1024 floats) cross bucket boundaries.
func collectives(_ comm: Communicator, _ o: Options) throws {
    let r = Float(comm.rank)
    var lines = ["rank \(comm.rank)", "size \(comm.size)", "distributed \(comm.isDistributed)"]
    var single = (0..<10).map { r + 1 + Float($0) }                      // Σ_r = S(S+1)/2 + S·i
    try single.withUnsafeMutableBufferPointer { try comm.allreduceSum($0) }
    lines.append("sum " + format(single))
    var mean = (0..<10).map { r * 2 + Float($0) }                        // mean = (S−1) + i
    try mean.withUnsafeMutableBufferPointer { try comm.allreduceMean($0) }
    lines.append("mean " + format(mean))
    let sizes = [3, 1000, 7, 2500, 1]
    let buffers = makeBuffers(sizes) { b, i in r + 1 + Float(b) * 0.25 + Float(i % 13) }
    try comm.allreduceSum(buffers)
    for (b, v) in buffers.enumerated() { lines.append("bucket\(b) " + format(v)) }
    let weighted = makeBuffers(sizes) { _, _ in r + 1 }                  // Σ_r w·(r+1)·s, w = 0.5, s = 2
    try comm.allreduceSum(weighted, weight: 0.5, scale: 2)
    lines.append("weighted " + format(weighted[3]))
    for b in buffers + weighted { b.deallocate() }
    let d = try comm.allreduceSum([Double(comm.rank) + 0.125, 1e300 / Double(max(comm.size, 1))])
    lines.append("double \(d[0]) \(d[1])")
    let counts = try comm.allreduceSum([comm.rank, 1, 1 << 40])
    lines.append("int64 \(counts.map(String.init).joined(separator: " "))")
    lines.append("max \(try comm.allreduceMax(Double(comm.rank * 10)))")
    lines.append("any \(try comm.any(comm.rank == comm.size - 1)) \(try comm.any(false))")
    var bc = (0..<5).map { Float($0) + r * 100 }
    try bc.withUnsafeMutableBufferPointer { try comm.broadcast($0, root: 0) }
    lines.append("broadcast " + format(bc))
    lines.append("string \(try comm.broadcast(comm.rank == 0 ? "run-from-rank-0 ✓" : "other", root: 0))")
    lines.append("gather \(try comm.allgather("r\(comm.rank)").joined(separator: ","))")
    // A real MPI error under MPI_ERRORS_RETURN (set on MPI_COMM_WORLD too): a negative count comes
    // back as MPI_ERR_COUNT instead of aborting the job.
    if comm.isDistributed {
        var x: Float = 1
        let rc = MPI_Allreduce(adnn_mpi_in_place(), &x, -1, adnn_mpi_float(), adnn_mpi_sum(), adnn_mpi_comm_world())
        lines.append("error \(MPIError(operation: "MPI_Allreduce", code: rc, rank: comm.rank, size: comm.size))")
    }
    try comm.barrier()
    lines.append("hosts \(try comm.hostCount())")
    lines.append("mpi_calls \(comm.mpiCalls)")
    let dir = o.string("out", ".")
    try write(lines.joined(separator: "\n") + "\n", to: dir + "/rank-\(comm.rank).txt")
    print("rank \(comm.rank) of \(comm.size): collectives done (\(comm.mpiCalls) MPI calls) on \(comm.processorName())")
}

// MARK: - equivalence

/// A tiny FER model (EfficientNet-Lite0 trunk at `input` px, gray) trained through real `Trainer`
/// objects: AdamW/SGD with layer decay and weight-decay groups, gradient clipping, warm-up schedule,
/// CE + center loss + DLS with the centers updated after every step. BN runs on its running
/// statistics and dropout is off (`model.eval()`): BN is local per rank, so batch statistics over B/N
/// samples would differ from those over B by design (see docs/distributed.md).
func equivalence(_ comm: Communicator, _ o: Options) throws {
    let steps = o.int("steps", 6), batch = o.int("batch", 8), samples = o.int("samples", 21)
    let side = o.int("input", 32), classes = 7
    // --via-step 1: the distributed ranks run the real `Trainer.step` with `gradientHook` doing the
    // allreduce. Its center update is local (no hook for it yet), so the center-loss weight is 0 then.
    let viaStep = o.int("via-step", 0) != 0
    var config = Config()
    config.model.backbone = "tf_efficientnet_lite0"
    config.model.inChans = 1; config.model.inputSize = side; config.model.numClasses = classes
    config.model.dropRate = 0; config.model.dropPathRate = 0
    config.model.cbam = nil; config.model.transformer = nil; config.model.pretrained = o.values["pretrained"]
    config.loss = viaStep ? Config.Loss(ce: 0.85, center: 0, dls: 0.15, centerAlpha: 0.5)
                          : Config.Loss(ce: 0.6, center: 0.25, dls: 0.15, centerAlpha: 0.5)
    guard let kind = OptimizerKind(rawValue: o.string("optimizer", "adamw")) else { fail("--optimizer: adamw or sgd") }
    config.optim.name = kind
    config.optim.lr = 1e-3; config.optim.gradClip = 1.0
    config.schedule.epochs = 10; config.schedule.warmupEpochs = 1
    config.data.batchSize = batch
    config.seed = 7

    // The data set: the same on every rank (deterministic), like a data set every rank reads.
    var rng = SeededRNG(seed: 2024)
    let plane = side * side
    let images = (0..<(samples * plane)).map { _ in rng.nextNormal() }
    let labels = (0..<samples).map { _ in Int(rng.next() % UInt64(classes)) }
    func epochOrder(_ epoch: Int) -> [Int] {
        var g = SeededRNG(seed: 99 &+ UInt64(epoch))
        var p = Array(0..<samples)
        for i in stride(from: samples - 1, to: 0, by: -1) { p.swapAt(i, Int(g.next() % UInt64(i + 1))) }
        return p
    }
    func batchTensor(_ idx: [Int]) -> TrainBatch {
        var x = [Float](); x.reserveCapacity(idx.count * plane)
        for i in idx { x += images[(i * plane)..<((i + 1) * plane)] }
        return TrainBatch(images: Tensor(x, shape: [idx.count, side, side, 1]), targets: BatchTargets(labels: idx.map { labels[$0] }))
    }
    let stepsPerEpoch = (samples + batch - 1) / batch

    // DLS class counts: each rank counts its own shard, the allreduce makes them global.
    var local = [Int](repeating: 0, count: classes)
    for i in shard(of: epochOrder(0), rank: comm.rank, size: comm.size, batchSize: batch) { local[labels[i]] += 1 }
    let classCounts = try comm.allreduceSum(local)
    var expected = [Int](repeating: 0, count: classes)
    for y in labels { expected[y] += 1 }
    guard classCounts == expected else { fail("global class counts \(classCounts) != \(expected)") }

    let runDir = FileManager.default.temporaryDirectory.path
    let names = (0..<classes).map { "c\($0)" }
    let trainer = try Trainer(config: config, classes: names, classCounts: classCounts, runDir: runDir, stepsPerEpoch: stepsPerEpoch)
    let params = trainer.optimizer.entries.map(\.tensor)
    let state = trainer.model.namedTensors().map(\.tensor) + [trainer.loss.center.centers]
    try comm.broadcast(state, root: 0)                       // every rank starts from rank 0's weights
    trainer.model.eval()
    let initialState = state.map { $0.copy() }
    let initial = params.map { $0.copy() }
    // Rank 0 keeps, per step, the state the step started from and the averaged gradients it produced.
    var stepStates: [[Tensor]] = [], stepGradients: [[Tensor?]] = []
    var hookError: Error?, localSamples = 0
    if viaStep {
        trainer.gradientHook = { ps in
            do {
                try comm.averageGradients(ps, localSamples: localSamples)
                if comm.isRoot { stepGradients.append(ps.map { $0.grad?.copy() }) }
            } catch { hookError = error }
        }
    }
    let t0 = Date()
    for s in 0..<steps {
        let epoch = s / stepsPerEpoch, k = s % stepsPerEpoch
        let positions = shardPositions(count: samples, rank: comm.rank, size: comm.size, batchSize: batch)[k]
        let order = epochOrder(epoch)
        let b = batchTensor(positions.map { order[$0] })
        if comm.isRoot { stepStates.append((params + [trainer.loss.center.centers]).map { $0.copy() }) }
        if viaStep {
            guard !positions.isEmpty else { fail("--via-step: rank \(comm.rank) has no sample in step \(s) (Trainer.step needs one)") }
            localSamples = positions.count
            try trainer.step(b, globalStep: s)
            if let e = hookError { throw e }
            continue
        }
        trainer.optimizer.lr = trainer.schedule.lr(at: s)
        trainer.optimizer.zeroGrad()
        var features = Tensor(zeros: [0, trainer.model.featureDim])
        if !positions.isEmpty {
            let out = trainer.model.forward(b.images)
            let l = trainer.loss(logits: out.logits, features: out.features, targets: b.targets)
            l.total.backward()
            features = out.features
        }
        try comm.averageGradients(params, localSamples: positions.count)   // ← the one new line of a step
        if comm.isRoot { stepGradients.append(params.map { $0.grad?.copy() }) }
        trainer.optimizer.clipGradNorm(config.optim.gradClip)
        trainer.optimizer.step()
        try noGrad { try comm.updateCenters(trainer.loss.center,
                                           features: features, labels: b.targets.dominantLabels) }
    }
    let seconds = Date().timeIntervalSince(t0)
    // Under --via-step the centers are updated locally (weight 0 in the loss): compare parameters only.
    let compared = viaStep ? params : params + [trainer.loss.center.centers]
    let drift = try comm.maxRelativeDeviationFromRoot(compared)
    let reduced = comm.reducedBytes
    let hosts = try comm.hostCount()
    guard comm.isRoot else { return }

    // The reference: one process, batch B, the unchanged `Trainer.step` (as `fit` runs it).
    let ref = try Trainer(config: config, classes: names, classCounts: expected, runDir: runDir, stepsPerEpoch: stepsPerEpoch)
    let refState = ref.model.namedTensors().map(\.tensor) + [ref.loss.center.centers]
    let refParams = ref.optimizer.entries.map(\.tensor) + [ref.loss.center.centers]
    ref.model.eval()
    func globalBatch(_ s: Int) -> TrainBatch {
        let order = epochOrder(s / stepsPerEpoch), k = s % stepsPerEpoch
        return batchTensor(Array(order[(k * batch)..<min(samples, (k + 1) * batch)]))
    }
    /// ‖a − b‖₂ and ‖b‖₂ over a list of tensor pairs.
    func distance(_ a: [Tensor], _ b: [Tensor]) -> (diff: Double, norm: Double, worst: Double, worstIndex: Int, maxAbs: Double) {
        var diff = 0.0, norm = 0.0, worst = 0.0, worstIndex = -1, maxAbs = 0.0
        for (i, (x, y)) in zip(a, b).enumerated() {
            var d2 = 0.0, n2 = 0.0
            for j in 0..<y.count {
                let d = Double(x.ptr[j] - y.ptr[j]); d2 += d * d; n2 += Double(y.ptr[j]) * Double(y.ptr[j])
                maxAbs = max(maxAbs, abs(d))
            }
            diff += d2; norm += n2
            let rel = n2 > 0 ? (d2 / n2).squareRoot() : d2.squareRoot()
            if rel > worst { worst = rel; worstIndex = i }
        }
        return (diff.squareRoot(), norm.squareRoot(), worst, worstIndex, maxAbs)
    }

    // 1. Gradients, step by step: from the very state the distributed step started from, one process
    //    with the whole batch B must compute the gradients that the allreduce produced. A separate
    //    trainer (its optimiser state is spent here), the gradients caught by its `gradientHook`.
    let probe = try Trainer(config: config, classes: names, classCounts: expected, runDir: runDir, stepsPerEpoch: stepsPerEpoch)
    let probeParams = probe.optimizer.entries.map(\.tensor) + [probe.loss.center.centers]
    probe.model.eval()
    var caught: [Tensor?] = []
    probe.gradientHook = { ps in caught = ps.map { $0.grad?.copy() } }
    var gradientWorst = 0.0, presenceMismatches = 0, gradientSteps: [Double] = []
    for s in 0..<steps {
        for (a, b) in zip(probeParams, stepStates[s]) { a.assign(b) }
        try probe.step(globalBatch(s), globalStep: s)
        var mine: [Tensor] = [], theirs: [Tensor] = []
        for (h, g) in zip(stepGradients[s], caught) {
            switch (h, g) {
            case let (h?, g?): mine.append(h); theirs.append(g)
            case (nil, nil): break
            default: presenceMismatches += 1
            }
        }
        let d = distance(mine, theirs)
        gradientSteps.append(d.norm > 0 ? d.diff / d.norm : d.diff)
        gradientWorst = max(gradientWorst, gradientSteps[s])
    }

    // 2. Parameters after all steps: one process trained with batch B from the same start.
    for (a, b) in zip(refState, initialState) { a.assign(b) }
    for s in 0..<steps { try ref.step(globalBatch(s), globalStep: s) }
    if let path = o.values["dump"] {   // the reference parameters, raw float32, for cross-run comparisons
        var bytes = Data()
        for e in ref.optimizer.entries { bytes.append(UnsafeBufferPointer(start: e.tensor.ptr, count: e.tensor.count)) }
        try bytes.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
    let p = distance(compared, Array(refParams.prefix(compared.count)))
    let parameterRelative = p.diff / p.norm
    let updates = distance(Array(refParams.prefix(compared.count)), Array((initial + [Tensor(zeros: trainer.loss.center.centers.shape)]).prefix(compared.count)))
    let names2 = ref.optimizer.entries.map(\.name) + ["center_loss.centers"]
    let tolerance = 1e-5
    let pass = gradientWorst <= tolerance && presenceMismatches == 0 && parameterRelative <= tolerance
    let report = """
    equivalence \(pass ? "PASS" : "FAIL")
    ranks \(comm.size)
    hosts \(hosts)
    optimizer \(config.optim.name.rawValue)
    via_trainer_step \(viaStep)
    pretrained \(config.model.pretrained ?? "none")
    steps \(steps)
    global_batch \(batch)
    samples \(samples)
    parameters \(params.reduce(0) { $0 + $1.count })
    gradient_relative_difference_worst_step \(gradientWorst)
    gradient_relative_difference_steps \(gradientSteps.map { String(format: "%.2e", $0) }.joined(separator: " "))
    gradient_presence_mismatches \(presenceMismatches)
    parameter_relative_difference \(parameterRelative)
    parameter_difference_over_update \(p.diff / max(updates.diff, 1e-30))
    worst_tensor \(p.worstIndex >= 0 ? names2[p.worstIndex] : "-") \(p.worst)
    max_abs_difference \(p.maxAbs)
    replica_drift \(drift)
    allreduce_bytes_rank0 \(reduced)
    seconds \(String(format: "%.2f", seconds))
    """
    print(report)
    if let dir = o.values["out"] { try write(report + "\n", to: dir + "/equivalence.txt") }
    if !pass { exit(2) }
}

// MARK: - bench

/// Times the bucketed mean allreduce of `--floats` floats split like a model's parameters (a few
/// large and many small tensors), for several bucket sizes.
func bench(_ comm: Communicator, _ o: Options) throws {
    let floats = o.int("floats", 3_379_399), iters = o.int("iters", 10)
    var sizes: [Int] = [], left = floats, k = 0
    while left > 0 { let n = min(left, k % 5 == 0 ? 409_600 : 1_280 + k * 17); sizes.append(n); left -= n; k += 1 }
    let buffers = makeBuffers(sizes) { _, _ in Float(comm.rank + 1) }
    defer { for b in buffers { b.deallocate() } }
    for bucket in [1 << 20, 4 << 20, 16 << 20, 64 << 20] {
        let c = comm.withBucket(bytes: bucket)
        try c.allreduceMean(buffers)                                    // warm-up (connections)
        try comm.barrier()
        let t0 = Date()
        for _ in 0..<iters { try c.allreduceMean(buffers) }
        let per = Date().timeIntervalSince(t0) / Double(iters)
        let bytes = Double(floats * 4)
        let maxPer = try comm.allreduceMax(per)
        if comm.isRoot {
            print(String(format: "bench ranks %d floats %d bucket %d MiB: %.2f ms per allreduce, %.2f GB/s algorithm bandwidth, %.2f GB/s bus (2(N-1)/N)",
                         comm.size, floats, bucket >> 20, maxPer * 1e3, bytes / maxPer / 1e9,
                         bytes * 2 * Double(comm.size - 1) / Double(comm.size) / maxPer / 1e9))
        }
    }
}

// MARK: - throughput

/// Training steps of a real recipe model in train mode (local BN, dropout): images/s for a global
/// batch split over the ranks, and the share of time spent in the gradient allreduce.
func throughput(_ comm: Communicator, _ o: Options) throws {
    var config = try Config.load(path: o.string("config", "Configs/fer2013-cpu.yaml"))
    config.model.pretrained = nil
    let batch = o.int("batch", config.data.batchSize), steps = o.int("steps", 4)
    let local = shardBatchSizes(count: batch, rank: comm.rank, size: comm.size, batchSize: batch)[0]
    let side = config.model.inputSize, ch = config.model.inChans, classes = config.model.numClasses
    let trainer = try Trainer(config: config, classes: (0..<classes).map { "c\($0)" },
                              classCounts: [Int](repeating: 10, count: classes), runDir: FileManager.default.temporaryDirectory.path,
                              stepsPerEpoch: steps)
    let params = trainer.optimizer.entries.map(\.tensor)
    try comm.broadcast(trainer.model.namedTensors().map(\.tensor), root: 0)
    var rng = SeededRNG(seed: UInt64(comm.rank) &+ 5)
    let x = Tensor.normal([local, side, side, ch], rng: &rng)
    let targets = BatchTargets(labels: (0..<local).map { $0 % classes })
    trainer.model.train()
    var start = Date(), reduceStart = 0.0
    for s in 0...steps {
        if s == 1 { try comm.barrier(); start = Date(); reduceStart = comm.reduceSeconds }   // step 0 warms up
        let out = trainer.model.forward(x)
        let l = trainer.loss(logits: out.logits, features: out.features, targets: targets)
        trainer.optimizer.zeroGrad()
        l.total.backward()
        try comm.averageGradients(params, localSamples: local)
        trainer.optimizer.clipGradNorm(config.optim.gradClip)
        trainer.optimizer.step()
        try noGrad { try comm.updateCenters(trainer.loss.center,
                                           features: out.features, labels: targets.dominantLabels) }
    }
    try comm.barrier()
    let seconds = Date().timeIntervalSince(start)
    let reduce = try comm.allreduceMax(comm.reduceSeconds - reduceStart)
    if comm.isRoot {
        print(String(format: "throughput %@: %@, global batch %d at %dpx: %.1f img/s, %.3f s/step, allreduce %.1f %% of the step",
                     config.model.backbone, comm.startupLine(threads: Threading.threads), batch, side,
                     Double(batch * steps) / seconds, seconds / Double(steps), 100 * reduce / seconds))
    }
}

// MARK: - die

/// Every rank allreduces in a loop; rank `--rank` exits abruptly (no MPI_Finalize) after `--after`
/// rounds. The survivors must not hang: they end with one clear line.
func die(_ comm: Communicator, _ o: Options) throws {
    let victim = o.int("rank", 1), after = o.int("after", 3)
    var buf = [Float](repeating: 1, count: 1 << 16)
    for round in 0..<1000 {
        if comm.rank == victim && round == after {
            FileHandle.standardError.write(Data("adnn-mpi-check: rank \(comm.rank) exits on purpose at round \(round)\n".utf8))
            if let sig = o.values["signal"].flatMap({ Int32($0) }) { kill(getpid(), sig) }
            exit(3)
        }
        try buf.withUnsafeMutableBufferPointer { try comm.allreduceMean($0) }
        usleep(20_000)
    }
}

// MARK: - compare

/// Compares two checkpoints tensor by tensor (e.g. `mpirun -np 2 adnn train` against one process).
func compare(_ o: Options) throws {
    guard let pa = o.values["a"], let pb = o.values["b"] else { fail("compare needs --a FILE --b FILE") }
    let tolerance = Double(o.string("tolerance", "1e-5")) ?? 1e-5
    let a = try Checkpoint.read(pa).tensorDict, b = try Checkpoint.read(pb).tensorDict
    guard Set(a.keys) == Set(b.keys) else { fail("\(pa) and \(pb) hold different tensors") }
    var worst = 0.0, worstName = "", d2 = 0.0, n2 = 0.0, count = 0, elements = 0
    for (name, x) in a.sorted(by: { $0.key < $1.key }) where !name.hasPrefix("optim.") {
        guard let y = b[name], y.shape == x.shape else { fail("tensor \(name): shapes differ") }
        let s = x.scalars, r = y.scalars
        var d = 0.0, n = 0.0
        for i in 0..<s.count { d += Double(s[i] - r[i]) * Double(s[i] - r[i]); n += Double(r[i]) * Double(r[i]) }
        let rel = d.squareRoot() / max(n.squareRoot(), 1e-3)
        if rel > worst { worst = rel; worstName = name }
        d2 += d; n2 += n; count += 1; elements += s.count
    }
    let overall = d2.squareRoot() / max(n2.squareRoot(), 1e-12)
    let pass = overall <= tolerance && worst <= tolerance
    print("compare \(pass ? "PASS" : "FAIL")   tensors \(count)   elements \(elements)   tolerance \(tolerance)")
    print(String(format: "relative_difference_all %.3e   worst_tensor %.3e (%@)", overall, worst, worstName))
    if !pass { exit(1) }
}

// MARK: - main

let args = CommandLine.arguments
guard args.count >= 2 else { fail("usage: adnn-mpi-check collectives|equivalence|die [--key value ...]") }
let options = Options(args.dropFirst(2))
if args[1] == "compare" {
    do { try compare(options) } catch { fail("\(error)") }
    exit(0)
}
do {
    let comm = try Communicator.initializeIfLaunched(bucketBytes: options.int("bucket-bytes", 4 << 20))
    comm.installTerminationHandler(note: "last checkpoint: none (adnn-mpi-check writes none)")
    switch args[1] {
    case "collectives": try collectives(comm, options)
    case "equivalence": try equivalence(comm, options)
    case "die": try die(comm, options)
    case "bench": try bench(comm, options)
    case "throughput": try throughput(comm, options)
    default: fail("unknown mode '\(args[1])' (collectives, equivalence, bench, throughput, die)")
    }
    try comm.finalize()
} catch {
    fail("\(error)")
}
