import Foundation
import Synchronization

/// A fixed-capacity FIFO between one producer thread and one consumer thread.
final class BoundedQueue<Element>: @unchecked Sendable {
    private var items: [Element] = []
    private var head = 0
    private let capacity: Int
    private var closed = false
    private let condition = NSCondition()

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Blocks while full; returns false (dropping `item`) once the queue is closed.
    @discardableResult
    func put(_ item: Element) -> Bool {
        condition.lock(); defer { condition.unlock() }
        while items.count - head >= capacity && !closed { condition.wait() }
        if closed { return false }
        items.append(item)
        condition.broadcast()
        return true
    }

    /// Blocks while empty; nil once closed and drained.
    func take() -> Element? {
        condition.lock(); defer { condition.unlock() }
        while items.count == head && !closed { condition.wait() }
        if items.count == head { return nil }
        let item = items[head]
        head += 1
        if head > 64 { items.removeFirst(head); head = 0 }
        condition.broadcast()
        return item
    }

    /// No more puts; takers drain what is left, then get nil.
    func close() {
        condition.lock(); closed = true; condition.broadcast(); condition.unlock()
    }

    /// Close and drop everything queued (the consumer gave up).
    func cancel() {
        condition.lock(); closed = true; items = []; head = 0; condition.broadcast(); condition.unlock()
    }
}

/// Runs `body` on a new thread; `join()` waits for it.
final class JoinableThread: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let thread: Thread

    init(name: String, _ body: @escaping @Sendable () -> Void) {
        let sem = done
        thread = Thread { body(); sem.signal() }
        thread.name = name
        thread.stackSize = 8 << 20
        thread.start()
    }

    func join() { done.wait() }
}

private let interruptFlag = Atomic<Bool>(false)

/// Ctrl-C for `adnn video`: the first SIGINT/SIGTERM asks the pipeline to stop after the current
/// frame (finishing `frames.csv`, `tracks.json` and the MP4); a second one exits at once.
public enum VideoInterrupt {
    /// Installs the handlers.
    public static func install() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig) { _ in
                if interruptFlag.load(ordering: .relaxed) { _exit(130) }
                interruptFlag.store(true, ordering: .relaxed)
            }
        }
    }

    /// True once a stop was requested (by a signal or `request()`).
    public static var requested: Bool { interruptFlag.load(ordering: .relaxed) }

    /// Asks the running pipeline to stop after the current frame (as Ctrl-C does).
    public static func request() { interruptFlag.store(true, ordering: .relaxed) }

    /// Clears a request (before a new run).
    public static func reset() { interruptFlag.store(false, ordering: .relaxed) }
}
