@testable import TandemFleet
import Testing

/// The shipping loop's schedule, without PostgreSQL or a clock.
@Suite("Shipper state machine")
struct ShipperStateMachineTests {
    static let schedule = ShipperStateMachine.Schedule(
        retryDelay: .milliseconds(100), maxRetryDelay: .milliseconds(350), pollInterval: .milliseconds(500), linger: .milliseconds(100)
    )
    static let outage = FleetError.timedOut(.seconds(5))

    @Test("the first attempt migrates and reads the mark; later ones ship from the known mark; caught up, it waits for appends")
    func happyPath() {
        var machine = ShipperStateMachine(schedule: Self.schedule)
        #expect(machine.handle(.ready) == .init(step: .attempt(migrate: true, readMark: true)))
        #expect(machine.handle(.shipped(wasFull: true)) == .init(step: .attempt(migrate: false, readMark: false)))
        #expect(machine.handle(.caughtUp) == .init(step: .waitForAppend(timeout: .milliseconds(500))))
        #expect(machine.handle(.ready) == .init(step: .attempt(migrate: false, readMark: false)))
    }

    @Test("after a batch that was not full it lingers (a trailing shipper), or goes on at once (linger zero)")
    func linger() {
        var trailing = ShipperStateMachine(schedule: Self.schedule)
        _ = trailing.handle(.ready)
        #expect(trailing.handle(.shipped(wasFull: false)).step == .linger(.milliseconds(100)))
        var schedule = Self.schedule
        schedule.linger = .zero
        var leading = ShipperStateMachine(schedule: schedule)
        _ = leading.handle(.ready)
        #expect(leading.handle(.shipped(wasFull: false)).step == .attempt(migrate: false, readMark: false))
    }

    @Test("failures back off doubling up to the limit, each outage noted once; a success resets the delay and notes the recovery")
    func backOff() {
        var machine = ShipperStateMachine(schedule: Self.schedule)
        _ = machine.handle(.ready)
        #expect(machine.handle(.failed(Self.outage, migrated: false)) == .init(step: .backOff(.milliseconds(100)), note: .failure(Self.outage, isNew: true)))
        #expect(machine.handle(.ready).step == .attempt(migrate: true, readMark: true))
        #expect(machine.handle(.failed(Self.outage, migrated: true)) == .init(step: .backOff(.milliseconds(200)), note: .failure(Self.outage, isNew: false)))
        #expect(machine.handle(.ready).step == .attempt(migrate: false, readMark: true))
        #expect(machine.handle(.failed(Self.outage, migrated: false)).step == .backOff(.milliseconds(350)))
        let other = FleetError.database("disk full")
        #expect(machine.handle(.failed(other, migrated: false)) == .init(step: .backOff(.milliseconds(350)), note: .failure(other, isNew: true)))
        _ = machine.handle(.ready)
        #expect(machine.handle(.shipped(wasFull: true)) == .init(step: .attempt(migrate: false, readMark: false), note: .resumed))
        #expect(machine.handle(.failed(Self.outage, migrated: false)).step == .backOff(.milliseconds(100)))
    }

    @Test("a timed-out attempt whose commit landed late: the next attempt reads the stored mark, never the one it knew")
    func timeoutThenLateCommit() {
        var machine = ShipperStateMachine(schedule: Self.schedule)
        _ = machine.handle(.ready)
        _ = machine.handle(.shipped(wasFull: true))
        // The attempt's batch may be in PostgreSQL although its answer never came.
        #expect(machine.handle(.failed(Self.outage, migrated: false)).step == .backOff(.milliseconds(100)))
        #expect(machine.handle(.ready).step == .attempt(migrate: false, readMark: true))
    }

    @Test("a divergence or another node holding the id stops for good; a stop request stops; nothing runs after a stop")
    func stops() {
        for error in [FleetError.divergence(node: "n", seq: 3, reason: "r"), .nodeIDInUse("n")] {
            var machine = ShipperStateMachine(schedule: Self.schedule)
            _ = machine.handle(.ready)
            #expect(machine.handle(.failed(error, migrated: true)).step == .stop(error))
            #expect(machine.handle(.ready).step == .stop(nil))
        }
        var machine = ShipperStateMachine(schedule: Self.schedule)
        _ = machine.handle(.ready)
        #expect(machine.handle(.stopRequested).step == .stop(nil))
        #expect(machine.handle(.shipped(wasFull: true)).step == .stop(nil))
    }
}
