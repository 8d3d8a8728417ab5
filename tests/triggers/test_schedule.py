"""The schedule trigger: next-run preview, time zones and DST, registration on activation,
the missed-run rule, per-slot idempotency and the daily limit."""

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_q.models import Schedule

from runs.intake.schedule import fire_schedule
from runs.models import WorkflowRun
from tests.triggers.helpers import activate_ok, trigger_workflow
from workflows.models import Workflow
from workflows.triggers.schedules import (
    CronSpec,
    ensure_schedules,
    register_schedules,
    registered_schedules,
    run_due_schedules,
    schedule_name,
)

BERLIN = ZoneInfo("Europe/Berlin")


def schedule_workflow(
    api, cron="0 9 * * 1-5", tz="Europe/Berlin", settings=None, variables=None, name="tick"
):
    return trigger_workflow(
        api,
        {"id": "clock", "type": "trigger.schedule", "config": {"cron": cron, "timezone": tz}},
        {"at": "{{ input.scheduled_at }}"},
        settings=settings,
        variables=variables,
        name=name,
    )


def activate(api, wid):
    return activate_ok(api, wid)


def fire_kwargs(row: Schedule) -> dict:
    import ast

    return ast.literal_eval(row.kwargs)


# -- preview and time zones -------------------------------------------------------------


@pytest.mark.django_db
def test_active_schedule_lists_its_next_five_runs_in_its_time_zone(api):
    wid = schedule_workflow(api)
    body = activate(api, wid)
    [entry] = body["triggers"]
    assert entry["node_id"] == "clock" and entry["type"] == "trigger.schedule" and entry["url"] is None
    assert entry["cron"] == "0 9 * * 1-5" and entry["timezone"] == "Europe/Berlin"
    runs = [datetime.fromisoformat(r) for r in entry["next_runs"]]
    assert len(runs) == 5 and runs == sorted(runs) and runs[0] > timezone.now()
    for when in runs:
        local = when.astimezone(BERLIN)
        assert (local.hour, local.minute, local.second) == (9, 0, 0) and local.weekday() < 5
        assert when.utcoffset() == local.utcoffset()  # written with the zone's own offset
    assert api.get(f"/api/v1/workflows/{wid}").json()["triggers"] == body["triggers"]


def test_daily_time_stays_at_local_wall_clock_across_spring_forward():
    spec = CronSpec("0 9 * * *", "Europe/Berlin")
    slots = spec.upcoming(3, after=datetime(2025, 3, 29, 12, tzinfo=BERLIN))
    assert [s.isoformat() for s in slots] == [
        "2025-03-30T09:00:00+02:00",
        "2025-03-31T09:00:00+02:00",
        "2025-04-01T09:00:00+02:00",
    ]
    before = spec.next_after(datetime(2025, 3, 28, 12, tzinfo=BERLIN))
    assert before.isoformat() == "2025-03-29T09:00:00+01:00"
    utc = ZoneInfo("UTC")
    assert slots[0].astimezone(utc) - before.astimezone(utc) == timedelta(hours=23)  # the short day


def test_fixed_time_in_the_repeated_hour_runs_once_but_intervals_run_at_each_occurrence():
    after = datetime(2025, 10, 25, 12, tzinfo=BERLIN)
    daily = CronSpec("30 2 * * *", "Europe/Berlin").upcoming(2, after=after)
    assert [s.isoformat() for s in daily] == ["2025-10-26T02:30:00+02:00", "2025-10-27T02:30:00+01:00"]
    half_hourly = CronSpec("*/30 * * * *", "Europe/Berlin").upcoming(
        4, after=datetime(2025, 10, 26, 1, 45, tzinfo=BERLIN)
    )
    assert [s.isoformat() for s in half_hourly] == [
        "2025-10-26T02:00:00+02:00",
        "2025-10-26T02:30:00+02:00",
        "2025-10-26T02:00:00+01:00",
        "2025-10-26T02:30:00+01:00",
    ]


def test_new_york_schedule_is_evaluated_in_new_york_not_server_time():
    spec = CronSpec("0 8 * * *", "America/New_York")
    [winter, summer] = spec.upcoming(2, after=datetime(2025, 3, 8, 14, tzinfo=ZoneInfo("UTC")))
    assert winter.isoformat() == "2025-03-09T08:00:00-04:00"  # DST starts 2025-03-09 02:00 local
    assert summer.isoformat() == "2025-03-10T08:00:00-04:00"
    assert (
        spec.next_after(datetime(2025, 3, 7, 14, tzinfo=ZoneInfo("UTC"))).isoformat()
        == "2025-03-08T08:00:00-05:00"
    )


def test_optional_sixth_field_gives_seconds():
    start = datetime(2025, 1, 1, 12, 0, 0, tzinfo=ZoneInfo("UTC"))
    slots = CronSpec("* * * * * */10", "UTC").upcoming(3, after=start)
    assert [s.second for s in slots] == [10, 20, 30] and slots[0].minute == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("config", "field", "fragment"),
    [
        ({"cron": "0 9 * *", "timezone": "UTC"}, "config.cron", "5 fields"),
        ({"cron": "0 9 * * * * *", "timezone": "UTC"}, "config.cron", "sixth for seconds"),
        ({"cron": "0 9 * * *", "timezone": "Mars/Olympus"}, "config.timezone", "unknown time zone"),
    ],
)
def test_a_malformed_schedule_is_refused_on_save(api, config, field, fragment):
    doc = {
        "schema": "switchyard.workflow/1",
        "edges": [],
        "nodes": [{"id": "clock", "type": "trigger.schedule", "config": config}],
    }
    res = api.post("/api/v1/workflows/", doc, format="json")
    assert res.status_code == 400
    [error] = res.json()["error"]["details"]["errors"]
    assert (error["node"], error["field"]) == ("clock", field) and fragment in error["message"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("cron", "tz", "field", "fragment"),
    [
        ("0 0 30 2 *", "UTC", "config.cron", "never matches"),
        ("{{ variables.when }}", "UTC", "config.cron", "cron needs 5 fields"),
        ("0 9 * * *", "{{ variables.zone }}", "config.timezone", "unknown time zone 'Atlantis'"),
        ("{{ variables.missing }}", "UTC", "config.cron", "could not be rendered"),
    ],
)
def test_a_schedule_that_cannot_fire_refuses_activation_naming_the_node(api, cron, tz, field, fragment):
    wid = schedule_workflow(api, cron, tz, variables={"when": "every day at nine", "zone": "Atlantis"})
    res = api.post(f"/api/v1/workflows/{wid}/activate", {}, format="json")
    assert res.status_code == 400, res.content
    [error] = res.json()["error"]["details"]["errors"]
    assert (error["node"], error["field"]) == ("clock", field) and fragment in error["message"]
    assert not Schedule.objects.exists() and Workflow.objects.get(pk=wid).status == "inactive"


@pytest.mark.django_db
def test_cron_and_time_zone_may_come_from_variables(api):
    wid = schedule_workflow(
        api,
        "{{ variables.cron }}",
        "{{ variables.tz }}",
        variables={"cron": "15 6 * * *", "tz": "Asia/Tokyo"},
    )
    [entry] = activate(api, wid)["triggers"]
    assert entry["cron"] == "15 6 * * *" and entry["timezone"] == "Asia/Tokyo"
    assert all(r.endswith("T06:15:00+09:00") for r in entry["next_runs"])


# -- registration ------------------------------------------------------------------------


@pytest.mark.django_db
def test_activation_registers_one_pinned_schedule_and_deactivation_removes_it(api):
    wid = schedule_workflow(api)
    body = activate(api, wid)
    workflow = Workflow.objects.get(pk=wid)
    [row] = registered_schedules(workflow)
    assert row.name == schedule_name(workflow.pk, "clock") and row.func == "runs.tasks.fire_schedule"
    assert row.schedule_type == Schedule.ONCE
    assert row.next_run == datetime.fromisoformat(body["triggers"][0]["next_runs"][0])
    assert fire_kwargs(row)["version_id"] == workflow.active_version_id

    res = api.post(f"/api/v1/workflows/{wid}/deactivate", {}, format="json")
    assert res.status_code == 200 and res.json()["triggers"] == []
    assert not Schedule.objects.exists()


@pytest.mark.django_db
def test_reactivation_replaces_the_schedule_with_the_new_version(api):
    wid = schedule_workflow(api, cron="0 9 * * *")
    activate(api, wid)
    doc = api.get(f"/api/v1/workflows/{wid}/export").json()
    doc["nodes"][0]["config"]["cron"] = "45 17 * * *"
    assert api.put(f"/api/v1/workflows/{wid}", doc, format="json").status_code == 200
    body = activate(api, wid)
    workflow = Workflow.objects.get(pk=wid)
    [row] = registered_schedules(workflow)
    assert fire_kwargs(row)["version_id"] == workflow.active_version_id == workflow.versions.get(number=2).pk
    assert row.next_run.astimezone(BERLIN).strftime("%H:%M") == "17:45"
    assert body["triggers"][0]["cron"] == "45 17 * * *"


# -- firing --------------------------------------------------------------------------------


@pytest.mark.usefixtures("inline_queue")
def test_slot_missed_long_ago_runs_once_on_start_up_then_waits_for_the_next_slot(api):
    wid = schedule_workflow(api, cron="* * * * *", tz="Europe/Berlin")
    activate(api, wid)
    workflow = Workflow.objects.get(pk=wid)
    # Everything was down for three days: the armed slot is ~4300 slots in the past.
    long_ago = timezone.now() - timedelta(days=3)
    register_schedules(workflow=workflow, version=workflow.active_version, now=long_ago)
    [row] = registered_schedules(workflow)
    missed_slot = row.next_run

    assert ensure_schedules() == 0  # the row is there: start-up keeps it as it is
    run_due_schedules()
    run_due_schedules()  # the next tick finds nothing due

    [run] = WorkflowRun.objects.filter(workflow_id=wid)
    assert run.status == "completed" and run.mode == "live" and run.trigger_type == "trigger.schedule"
    scheduled_at = datetime.fromisoformat(run.input["scheduled_at"])
    assert (
        scheduled_at == missed_slot and scheduled_at.utcoffset() == missed_slot.astimezone(BERLIN).utcoffset()
    )
    assert run.output == {"at": run.input["scheduled_at"]}
    [row] = registered_schedules(workflow)
    assert row.next_run > timezone.now() - timedelta(seconds=1)
    assert row.next_run - timezone.now() <= timedelta(seconds=61)


@pytest.mark.usefixtures("inline_queue")
def test_a_slot_fired_twice_makes_one_run(api):
    wid = schedule_workflow(api, cron="*/5 * * * *")
    activate(api, wid)
    workflow = Workflow.objects.get(pk=wid)
    [row] = registered_schedules(workflow)
    kwargs = fire_kwargs(row)
    first = fire_schedule(**kwargs)
    second = fire_schedule(**kwargs)
    assert first and first == second
    assert WorkflowRun.objects.filter(workflow_id=wid).count() == 1
    assert WorkflowRun.objects.get(pk=first).status == "completed"
    [row] = registered_schedules(workflow)  # armed once, at the slot after
    assert row.next_run > datetime.fromisoformat(kwargs["slot"])


@pytest.mark.usefixtures("inline_queue")
def test_a_stale_slot_of_a_deactivated_or_replaced_version_starts_nothing(api):
    wid = schedule_workflow(api)
    activate(api, wid)
    workflow = Workflow.objects.get(pk=wid)
    kwargs = fire_kwargs(registered_schedules(workflow).get())
    api.post(f"/api/v1/workflows/{wid}/deactivate", {}, format="json")
    assert fire_schedule(**kwargs) is None
    assert not Schedule.objects.exists()

    doc = api.get(f"/api/v1/workflows/{wid}/export").json()
    doc["description"] = "v2"
    api.put(f"/api/v1/workflows/{wid}", doc, format="json")
    activate(api, wid)
    assert fire_schedule(**kwargs) is None  # pinned to version 1; version 2 is live now
    assert not WorkflowRun.objects.exists() and registered_schedules(workflow).count() == 1


@pytest.mark.usefixtures("inline_queue")
def test_over_the_daily_limit_a_slot_is_refused_and_logged(api, caplog):
    wid = schedule_workflow(api, cron="* * * * *", settings={"max_runs_per_day": 1})
    activate(api, wid)
    workflow = Workflow.objects.get(pk=wid)
    kwargs = fire_kwargs(registered_schedules(workflow).get())
    assert fire_schedule(**kwargs)
    later = {**kwargs, "slot": (datetime.fromisoformat(kwargs["slot"]) + timedelta(minutes=1)).isoformat()}
    with caplog.at_level(logging.WARNING, logger="switchyard.schedules"):
        assert fire_schedule(**later) is None
    assert WorkflowRun.objects.filter(workflow_id=wid).count() == 1
    assert any(
        "refused" in r.getMessage() and "limit of 1 runs per day" in r.getMessage() for r in caplog.records
    )
    assert registered_schedules(workflow).count() == 1  # the schedule goes on


@pytest.mark.django_db
def test_start_up_repairs_a_missing_row_and_drops_rows_of_deleted_workflows(api):
    wid = schedule_workflow(api)
    activate(api, wid)
    workflow = Workflow.objects.get(pk=wid)
    registered_schedules(workflow).delete()
    assert ensure_schedules() == 1
    assert registered_schedules(workflow).count() == 1
    # A workflow row removed behind the service's back leaves an orphan row: start-up drops it.
    Workflow.objects.filter(pk=wid).delete()
    assert Schedule.objects.exists()
    ensure_schedules()
    assert not Schedule.objects.exists()


@pytest.mark.django_db
def test_deleting_a_workflow_removes_its_schedule(api):
    wid = schedule_workflow(api)
    activate(api, wid)
    assert Schedule.objects.count() == 1
    assert api.delete(f"/api/v1/workflows/{wid}").status_code == 204
    assert not Schedule.objects.exists()
