"""Answering a resend request (docs/protocol.md, resend): loaded by Device.sender when the gateway
asks for a range and dropped after, so its code is device heap only meanwhile."""

import wire


def gaps(held, first, last):
    """The (a, b) runs of first..last not in the sorted list ``held``, without enumerating."""
    out = []
    a = first
    for s in held:
        if s > a:
            out.append((a, s - 1))
        a = s + 1
    if a <= last:
        out.append((a, last))
    return out


async def run(dev, boot, first, last):
    """The gateway asked for boot's seqs first..last: send what we have, "gone" the rest."""
    held = []
    for e in dev.outbox.entries():
        if e[1] == boot and first <= e[2] <= last:
            held.append(e[2])
    held.sort()
    for s in held:
        e = dev.outbox.find(boot, s)  # afresh: an ack may have deleted its segment meanwhile
        if e is not None:
            await dev._publish(e, True)
    if boot == dev.boot and last > dev.seq:
        last = dev.seq
    for a, b in gaps(held, first, last):
        data = wire.encode(wire.gone(dev.id, boot, a, b))
        await dev.link.publish(dev.topic("gone"), data, 1)
