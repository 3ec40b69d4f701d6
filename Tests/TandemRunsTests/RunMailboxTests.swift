import TandemDomain
import Testing

@testable import TandemRuns

@Suite("Run mailbox")
struct RunMailboxTests {
    @Test("Everything that arrived while the run was busy comes out together, in order")
    func batches() async {
        let mailbox = RunMailbox()
        mailbox.yield(.stopped(.flash))
        mailbox.yield(.clientDisconnected)
        mailbox.yield(.shutdown)
        #expect(await mailbox.next() == [.stopped(.flash), .clientDisconnected, .shutdown])
        mailbox.yield(.stopped(.pro))
        #expect(await mailbox.next() == [.stopped(.pro)])
    }

    @Test("A waiting reader is handed the first input at once")
    func wakesWaiter() async {
        let mailbox = RunMailbox()
        async let batch = mailbox.next()
        // The reader may or may not be waiting yet: either way it gets exactly this input.
        mailbox.yield(.shutdown)
        #expect(await batch == [.shutdown])
    }

    @Test("After finish, pending inputs are still delivered, new ones dropped, then nil")
    func finish() async {
        let mailbox = RunMailbox()
        mailbox.yield(.clientDisconnected)
        mailbox.finish()
        mailbox.yield(.shutdown)
        #expect(await mailbox.next() == [.clientDisconnected])
        #expect(await mailbox.next() == nil)
    }

    @Test("A reader whose task is cancelled before it reads gets nil, even with nothing pending")
    func cancelledBeforeReading() async {
        let mailbox = RunMailbox()
        let (started, start) = AsyncStream.makeStream(of: Void.self)
        let reader = Task {
            for await _ in started {}  // ends when cancelled: next() begins on a cancelled task
            return await mailbox.next()
        }
        reader.cancel()
        start.finish()
        #expect(await reader.value == nil)
        #expect(!mailbox.readerIsWaiting)
    }

    @Test("A reader cancelled while it waits gets nil, and a later input is kept for the next read")
    func cancelledWhileWaiting() async {
        let mailbox = RunMailbox()
        let reader = Task { await mailbox.next() }
        // Polling is the only way to see the reader parked: it is a few scheduler turns away.
        while !mailbox.readerIsWaiting { await Task.yield() }
        reader.cancel()
        #expect(await reader.value == nil)
        #expect(!mailbox.readerIsWaiting)
        mailbox.yield(.shutdown)
        #expect(await mailbox.next() == [.shutdown])
    }
}
