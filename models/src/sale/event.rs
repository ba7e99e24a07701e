//! The flash-sale model's closed event enum: everything that can happen in a sale, 16 bytes each.

use sim::{SlabKey, Ticket};

/// Where a request is, for arrivals, service completions and wait timeouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hop {
    Edge,
    Gateway,
    /// The request's own waits at the gateway (session and auth lookups), after its CPU.
    GatewayWait,
    Redis,
    /// Back at the gateway with Redis's answer.
    RedisReply,
    DbPool,
    DbStatement,
    RowLock,
    /// A deadlock victim's check on the lock system's mutex.
    DeadlockCheck,
    /// A group update's first transaction has waited its window for others to join.
    BatchWindow,
    /// The waiting room's token check at the edge.
    Room,
    /// `queue_stream`: a poll's GET reaches the result store.
    Results,
    /// Back at the gateway with the result store's answer.
    ResultsReply,
    /// An order record's retry delay is over: it joins the order queue again.
    OrderRetry,
}

/// Everything that can happen in a flash sale.
#[derive(Clone, Copy, Debug)]
pub enum Event {
    /// The next click of the shared population.
    Click { index: u32 },
    /// A user retries after a backoff.
    Retry { user: u32 },
    /// A bot fires its next request.
    Bot { user: u32 },
    /// The earliest pending client timeout is due.
    TimeoutsDue,
    /// A request of `user` reaches `hop` (the user named so its state can be fetched early).
    Arrive { attempt: SlabKey, hop: Hop, user: u32 },
    /// `hop` finishes its work on a request.
    Served { attempt: SlabKey, hop: Hop },
    /// A request waiting at `hop` gives up (connection or lock wait timeout).
    WaitTimeout { attempt: SlabKey, hop: Hop, ticket: Ticket },
    /// The answer reaches the client (`user`'s, named so its state can be fetched early).
    Reply { attempt: SlabKey, user: u32 },
    /// `queue_stream`: a user's next poll is due.
    Poll { user: u32 },
    /// `queue_stream`: the topic, the job and the result store (see `arch::queue_stream`).
    Stream(StreamEvent),
    /// The waiting room admits its next user.
    Admit,
    /// `pre_open = "hold"`: the first tier passes its next held request on.
    HoldRelease,
    /// A payment check of one of `user`'s orders, or (`window_end`) its window's end.
    Payment { user: u32, window_end: bool },
    /// The order consumers are back after a crash.
    OrdersResume,
    /// The crash of `[[fault]]` number `index` happens.
    Fault { index: u16 },
}

const _: () = assert!(std::mem::size_of::<Event>() <= 16);

/// Events of the topic, the job and the result store.
#[derive(Clone, Copy, Debug)]
pub enum StreamEvent {
    /// A copy of a produce request reaches its partition leader.
    AtPartition {
        request: u32,
    },
    /// A partition leader finished appending the copy at the head of its queue.
    Appended {
        partition: u32,
    },
    /// The acknowledgement of a produce request reaches the gateway.
    Acked {
        request: u32,
    },
    /// The producer has heard nothing for `request_timeout` since its `send`-th copy.
    ProduceTimeout {
        request: u32,
        send: u8,
    },
    /// A log entry is fetched by the job.
    Delivered {
        entry: u32,
        epoch: u32,
    },
    /// A subtask finished deciding the entry at the head of its queue.
    Processed {
        subtask: u32,
        epoch: u32,
    },
    /// An order or answer written by the at-least-once sink lands.
    SinkWritten {
        entry: u32,
        code: u8,
    },
    /// The result store finished the command at the head of its queue.
    StoreServed,
    CheckpointTrigger,
    CheckpointComplete {
        epoch: u32,
    },
    /// The job is running again after a failure.
    JobRestarted {
        epoch: u32,
    },
    CacheRefresh,
}
