"""DNS zone actions: DNSZoneRecordsList, DNSZoneRecordAdd, DNSZoneRecordRemove."""

from __future__ import annotations

from typing import Any

from simulator.actions.common import V200, Context, Params, SimError, Spec, to_int
from simulator.model import DNSRecord, DNSZone

RECORD_TYPES = ("A", "MX", "CNAME", "NS", "TXT", "SRV")


def find_zone(ctx: Context, name: Any) -> DNSZone:
    """Return a hosted zone, or fail as Scalr does."""
    zone = ctx.state.dns_zones.get(str(name))
    if zone is None:
        raise SimError(f"Zone '{name}' not found in database")
    return zone


def dns_zone_records_list(ctx: Context, p: Params) -> dict[str, Any]:
    """List a zone's records."""
    zone = find_zone(ctx, p["ZoneName"])
    return {
        "ZoneRecordSet": [
            {
                "ID": r.id,
                "Type": r.type,
                "TTL": r.ttl,
                "Priority": r.priority,
                "Name": r.name,
                "Value": r.value,
                "Weight": r.weight,
                "Port": r.port,
                "IsSystem": int(r.is_system),
            }
            for r in zone.records
        ]
    }


def dns_zone_record_add(ctx: Context, p: Params) -> dict[str, Any]:
    """Add a record to a zone."""
    zone = find_zone(ctx, p["ZoneName"])
    if p["Type"] not in RECORD_TYPES:
        raise SimError(f"Unknown record type '{p['Type']}'")
    zone.records.append(
        DNSRecord(
            id=ctx.state.next_id("record"),
            type=str(p["Type"]),
            ttl=to_int(p["TTL"]),
            name=str(p["Name"]),
            value=str(p["Value"]),
            priority=to_int(p.get("Priority") or 0),
            weight=to_int(p.get("Weight") or 0),
            port=to_int(p.get("Port") or 0),
        )
    )
    return {"Result": True}


def dns_zone_record_remove(ctx: Context, p: Params) -> dict[str, Any]:
    """Remove a record from a zone."""
    zone = find_zone(ctx, p["ZoneName"])
    for record in zone.records:
        if str(record.id) == str(p["RecordID"]) and not record.is_system:
            zone.records.remove(record)
            return {"Result": True}
    raise SimError(f"Record ID '{p['RecordID']}' for zone '{zone.name}' not found in database")


SPECS = {
    "DNSZoneRecordsList": Spec(V200, (("ZoneName", True),), dns_zone_records_list),
    "DNSZoneRecordAdd": Spec(
        V200,
        (
            ("ZoneName", True),
            ("Type", True),
            ("TTL", True),
            ("Name", True),
            ("Value", True),
            ("Priority", False),
            ("Weight", False),
            ("Port", False),
        ),
        dns_zone_record_add,
    ),
    "DNSZoneRecordRemove": Spec(
        V200, (("ZoneName", True), ("RecordID", True)), dns_zone_record_remove
    ),
}
