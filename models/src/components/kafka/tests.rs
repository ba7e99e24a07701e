//! Unit tests of the topic, built alone: acknowledgements, idempotence, retries, broker loss.

use super::*;

const T: SimTime = SimTime::ZERO;

fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}

/// One partition per broker unless said otherwise; round trip 2 ms, replication 10 ms,
/// append 40 µs, all constant.
fn topic(acks: Acks, idempotence: bool, brokers: u32) -> Topic<u32> {
    let mut spec = RawKafka::default().check("kafka", &mut Issues::new()).unwrap();
    spec.partitions = 2;
    spec.brokers = brokers;
    spec.acks = acks;
    spec.idempotence = idempotence;
    spec.rtt = Dist::Constant(ms(2));
    spec.replication = Dist::Constant(ms(10));
    Topic::new(&spec, 1)
}

/// A copy of `request` reaching an idle leader at `now`, appended and written.
fn append(t: &mut Topic<u32>, now: SimTime, request: u32) -> Written {
    let (partition, work) = t.at_partition(now, request).expect("an idle leader appends");
    let (done, next) = t.finish_append(now + work, partition);
    assert_eq!((done, next), (request, None));
    t.write(now + work, request)
}

#[test]
fn the_acknowledgement_waits_for_nothing_the_leader_or_the_replicas() {
    for (acks, expected) in
        [(Acks::None, None), (Acks::Leader, Some(ms(1))), (Acks::All, Some(ms(11)))]
    {
        let mut t = topic(acks, true, 1);
        let request = t.produce(0, 0);
        assert_eq!(t.send(request), (ms(1), 1), "half the round trip; the first copy");
        let written = append(&mut t, T, request);
        assert_eq!(written.entry, Some(0));
        assert_eq!(written.replication, ms(10));
        assert_eq!(written.ack_after, expected, "acks {acks:?}");
        assert_eq!(t.log[0].visible_at, T + SimDuration::from_micros(40) + ms(10));
        assert_eq!((t.counters.lag, t.counters.peak_lag), (1, 1));
    }
}

#[test]
fn an_idempotent_broker_drops_a_resent_copy_and_a_plain_one_appends_it_again() {
    for idempotence in [true, false] {
        let mut t = topic(Acks::All, idempotence, 1);
        let request = t.produce(3, 0);
        t.send(request);
        append(&mut t, T, request);
        // The acknowledgement is late: the producer's timeout resends the record.
        assert_eq!(t.timeout(request, 1), ProduceTimeout::Resend);
        assert_eq!(t.send(request).1, 2);
        assert_eq!(t.timeout(request, 1), ProduceTimeout::Stale, "superseded copy");
        let again = append(&mut t, T + ms(100), request);
        if idempotence {
            assert_eq!(again.entry, None);
            assert_eq!(t.log.len(), 1);
            assert_eq!((t.counters.duplicates_dropped, t.counters.duplicate_records), (1, 0));
        } else {
            assert_eq!(again.entry, Some(1));
            assert_eq!(t.log.len(), 2, "two records of one request");
            assert_eq!((t.counters.duplicates_dropped, t.counters.duplicate_records), (0, 1));
        }
        assert!(again.ack_after.is_some(), "either way the copy is acknowledged");
        assert!(t.ack(request), "the first acknowledgement settles the request");
        assert!(!t.ack(request));
        assert_eq!(t.timeout(request, 2), ProduceTimeout::Stale);
    }
}

#[test]
fn out_of_retries_the_producer_gives_up() {
    let mut t = topic(Acks::All, true, 1);
    t.spec.producer_retries = 1;
    let request = t.produce(0, 0);
    t.send(request);
    assert_eq!(t.timeout(request, 1), ProduceTimeout::Resend);
    t.send(request);
    assert_eq!(t.timeout(request, 2), ProduceTimeout::GiveUp);
    assert_eq!((t.counters.resends, t.counters.producer_failures), (1, 1));
    assert!(!t.ack(request), "a late acknowledgement settles nothing");
}

#[test]
fn a_lost_broker_loses_its_unreplicated_entries_unless_acks_all() {
    for acks in [Acks::None, Acks::Leader, Acks::All] {
        // One broker leads both partitions.
        let mut t = topic(acks, true, 1);
        let (old, new) = (t.produce(0, 0), t.produce(1, 1));
        append(&mut t, T, old); // replicated by 10.04 ms
        append(&mut t, T + ms(8), new); // replicated by 18.04 ms
        let now = T + ms(12);
        let lost = t.lose_broker(now, SimDuration::from_secs(1), 0);
        let expected = if acks == Acks::All { 0 } else { 1 };
        assert_eq!(lost, expected, "acks {acks:?}");
        assert_eq!(t.counters.lost_records, expected);
        assert_eq!(t.counters.lag, 2 - expected, "lost entries leave the lag");
        assert!(!t.log[0].lost, "already on a follower");
        assert_eq!(t.log[1].lost, acks != Acks::All);
        // Without a leader the partition appends nothing until the election.
        let late = t.produce(0, 2);
        let (_, work) = t.at_partition(now, late).unwrap();
        assert!(work >= SimDuration::from_secs(1), "waits for the new leader");
    }
}

#[test]
fn the_consumer_position_moves_with_decisions_and_back_on_a_rewind() {
    let mut t = topic(Acks::All, true, 1);
    for user in 0..3 {
        let request = t.produce(user, user);
        append(&mut t, T + ms(user as u64), request);
    }
    t.consumed(0);
    t.consumed(2);
    assert_eq!(t.counters.lag, 1);
    assert_eq!(t.undecided().iter().map(|e| e.0).collect::<Vec<_>>(), [1]);
    t.rewind(&[0, 2]);
    assert_eq!(t.counters.lag, 3);
    assert!(t.is_undecided(2));
    assert_eq!(t.counters.peak_lag, 3);
}
