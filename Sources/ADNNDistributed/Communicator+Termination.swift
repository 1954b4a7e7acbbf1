import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The line a rank prints when the launcher terminates it (preformatted: a signal handler may only
/// call async-signal-safe functions such as `write`).
nonisolated(unsafe) private let terminationLine = UnsafeMutablePointer<UInt8>.allocate(capacity: 4096)
nonisolated(unsafe) private var terminationLength = 0

extension Communicator {
    /// Under MPI, makes this rank print one clear line when `mpirun` terminates it.
    ///
    /// When a rank dies (crash, `exit`, killed), Open MPI's `mpirun` ends the job: it prints its own
    /// box ("mpirun detected that one or more processes exited with non-zero status … Process name:
    /// [[job,1],rank] Exit code: …") and sends SIGTERM to the surviving ranks, which would otherwise
    /// vanish without a word. With this handler each survivor writes
    /// `adnn: rank r of N: stopped by mpirun because another rank ended (…); <note>` to stderr and
    /// exits with status 143. `note` should name the last checkpoint (update it with
    /// `setTerminationNote(_:)` after each checkpoint): checkpoints are written atomically, so the
    /// last one stays valid. No-op without MPI (a single process keeps its default SIGTERM).
    public func installTerminationHandler(note: String = "") {
        guard isDistributed else { return }
        setTerminationNote(note)
        signal(SIGTERM) { _ in
            _ = write(2, terminationLine, terminationLength)
            _exit(143)
        }
    }

    /// Sets the note of the termination line (e.g. `last checkpoint: runs/x/last.safetensors`).
    public func setTerminationNote(_ note: String) {
        let text = "adnn: rank \(rank) of \(size): stopped by mpirun because another rank ended (see mpirun's message)"
            + (note.isEmpty ? "" : "; " + note) + "\n"
        let bytes = Array(text.utf8.prefix(4095))
        terminationLength = 0                      // a signal arriving now prints nothing rather than half a line
        for (i, b) in bytes.enumerated() { terminationLine[i] = b }
        terminationLength = bytes.count
    }
}
