"""Render plans, estimates and catalog listings as table, JSON, CSV or Markdown text.

Rendering returns strings; only the CLI writes them. The terminal table is what a
purchaser reads first: what to buy, how many, what it costs, what it draws and
whom it serves. pandas and rich are imported only here, only when used.
"""

from __future__ import annotations

import csv
import io
import json
from fractions import Fraction
from typing import Any

from catalog import Catalog

from .documents import ErrorBand, band_json, band_short, band_text
from .estimator import Estimate
from .plan import Plan, money_json

__all__ = ["render_plan", "render_estimate", "render_catalog", "render_infeasible", "plan_rows", "FORMATS",
           "catalog_rows"]

FORMATS = ("table", "json", "csv", "md")


def _money(value: Fraction | float, currency: str = "") -> str:
    v = money_json(value)
    text = f"{v:,}" if isinstance(v, int) else f"{v:,.2f}"
    return f"{text} {currency}".strip()


def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table, as lines."""
    return ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)] + ["| " + " | ".join(r) + " |" for r in rows]


def _csv_dicts(rows: list[dict[str, Any]], empty_header: str) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else [empty_header], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


Bands = dict[str, "ErrorBand | None"]   # accelerator id → the speed model's error band for its family


def _speed_cell(value: float | None, accelerator: str, bands: Bands | None) -> str:
    """'20.0 ±15%': the speed and the speed model's validated error for that hardware family."""
    text = _num(value)
    return text if bands is None or value is None else f"{text} {band_short(bands.get(accelerator))}"


def _plan_json(plan: Plan, bands: Bands | None) -> dict[str, Any]:
    data = plan.to_json()
    if bands is not None:
        for line, j in zip(plan.lines, data["plan"]["lines"]):
            j["speed_error_band"] = band_json(bands.get(line.accelerator))
    return data


def plan_rows(plan: Plan, bands: Bands | None = None) -> list[dict[str, Any]]:
    """One flat row per plan line (the bill of what to buy), plus nothing else."""
    rows = []
    for line in plan.lines:
        j = line.to_json()
        rows.append({
            "item": line.item, "accelerator": line.accelerator, "maker": line.maker,
            "platform": line.platform, "system": line.system or "", "gpus_per_node": line.gpus_per_node,
            "nodes": line.nodes, "nodes_per_replica": line.nodes_per_replica, "replicas": line.replicas,
            "gpus": line.gpus, "precision": line.precision, "engine": line.engine, "users": line.users,
            "users_per_replica": line.users_per_replica, "tokens_per_s_per_user": j["tokens_per_s_per_user"],
            "node_price": money_json(line.node_price), "cost": money_json(line.cost),
            "currency": plan.totals.currency, "power_w": line.power_w, "memory_gb": round(line.memory_gb, 1),
        })
        if bands is not None:
            band = bands.get(line.accelerator)
            rows[-1]["speed_model_median_abs_error"] = None if band is None else round(band.median_abs_error, 3)
    return rows


def _table(headers: list[str], rows: list[list[str]], title: str = "", footer: list[str] | None = None,
           right: set[int] | None = None) -> str:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title or None, box=box.SIMPLE_HEAVY, show_footer=footer is not None, title_justify="left")
    for i, h in enumerate(headers):
        table.add_column(h, justify="right" if right and i in right else "left",
                         footer=(footer[i] if footer else ""))
    for r in rows:
        table.add_row(*r)
    buf = io.StringIO()
    Console(file=buf, width=160, color_system=None, force_terminal=False).print(table)
    lines = [line.rstrip() for line in buf.getvalue().splitlines()]
    return "\n".join(line for line in lines if line) + "\n"


def _settings_text(settings: dict[str, Any]) -> str:
    """memory_utilization 0.9, max_batch 1024, max_batched_tokens 8192, max_model_len 131072, CUDA graphs."""
    parts = [f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in settings.items()
             if k != "eager" and v is not None]
    return ", ".join(parts + ["eager" if settings.get("eager") else "CUDA graphs"])


def render_plan(plan: Plan, fmt: str = "table", bands: Bands | None = None) -> str:
    """One plan; `bands` (accelerator → error band) puts the speed model's validated error next to each line."""
    if fmt == "json":
        return json.dumps(_plan_json(plan, bands), indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return _csv_dicts(plan_rows(plan, bands), "item")
    t = plan.totals
    headers = ["Buy", "Nodes", "GPUs", "Precision / engine", "Users", "tok/s/user", "Cost", "Power kW"]
    body = [[line.item, str(line.nodes) + (f" ({line.replicas}×{line.nodes_per_replica})" if line.nodes_per_replica > 1 else ""),
             str(line.gpus), f"{line.precision} / {line.engine}",
             f"{line.users:,}" + (f" ({line.replicas}×{line.users_per_replica})" if line.replicas > 1 else ""),
             _speed_cell(line.tokens_per_s_per_user, line.accelerator, bands), _money(line.cost),
             _num(line.power_w / 1000)] for line in plan.lines]
    footer = ["Total", str(t.nodes), str(t.gpus), f"{t.memory_gb:,.0f} GB", f"{t.users:,}", "",
              _money(t.cost, t.currency), _num(t.power_w / 1000)]
    demanded = f"{plan.users_demanded:,} users" if plan.users_demanded else "one replica"
    title = (f"{plan.problem}: {plan.model} for {demanded}, price list {plan.price_list} — "
             f"{plan.status} plan, minimizing {plan.objective}")
    extra = [f"Solver: {plan.solver.seconds:.2f} s, {plan.solver.units_after_pruning} of "
             f"{plan.solver.units_considered} candidate units after dominance pruning"
             + (f", gap {plan.solver.gap:.2%} (bound {plan.solver.bound:,.0f})" if plan.status != "optimal" else "")
             + "; checked by the independent plan checker."]
    if bands is not None:
        extra += [f"Speed model error, {a}: {band_text(bands.get(a))}" for a in sorted({l.accelerator for l in plan.lines})]
    extra += [f"Note: {n}" for n in plan.notes]
    extra += [f"Note: {l.unit}: {l.note}" for l in plan.lines if l.note]
    extra += [f"Engine settings assumed, {l.item} ({l.engine}): {_settings_text(l.engine_settings)}"
              for l in plan.lines if l.engine_settings]
    extra += [f"Buy: {p.quantity} × {p.item} from {p.seller} at {_money(p.unit_price)} = {_money(p.extended)}"
              + (f" ({p.condition})" if p.condition != "new" else "") for p in plan.purchases]
    extra += [f"Exchange rate: {r}" for r in plan.exchange_rates]
    extra += [f"Left out — {l}" for l in plan.left_out]
    if fmt == "md":
        lines = [f"**{title}**", ""] + md_table(headers, body)
        lines += ["| " + " | ".join(f"**{c}**" if c else "" for c in footer) + " |", ""]
        lines += [f"- {e}" for e in extra]
        return "\n".join(lines) + "\n"
    return title + "\n" + _table(headers, body, footer=footer, right={1, 2, 4, 5, 6, 7}) + "\n".join(extra) + "\n"


def render_infeasible(explanation: dict, fmt: str) -> str:
    if fmt == "json":
        return json.dumps({"status": "infeasible", "objective": None, "plan": None, "explanation": explanation},
                          indent=2, ensure_ascii=False) + "\n"
    return explanation["summary"] + "\n"


def render_estimate(est: Estimate, fmt: str = "table") -> str:
    data = est.to_json()
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    labels = [
        ("Model / precision", f"{est.model} in {est.precision}" + (
            f" (asked {est.requested_precision})" if est.requested_precision not in ("auto", est.precision) else "")),
        ("Hardware", f"{est.gpus} × {est.accelerator} on {est.nodes} node(s), {est.platform}"),
        ("Engine / layout", f"{est.engine}, tp {est.tp} × pp {est.pp}" + (", DP attention" if est.dp_attention else "")),
        ("Memory installed", f"{est.memory_gb:,.0f} GB"),
        ("Weights", f"{est.weights_gb:,.1f} GB ({est.weights_per_gpu_gb:,.1f} GB per accelerator)"),
        ("KV budget per accelerator", f"{est.kv_budget_per_gpu_gb:,.1f} GB"),
        ("KV bytes per token", f"{est.kv_bytes_per_token:,.0f} B ({est.kv_dtype})"),
        ("KV capacity", f"{est.kv_capacity_tokens:,} tokens"),
        ("Max concurrency", f"{est.max_concurrency:,} requests of {est.context_tokens:,} tokens"),
        ("Fits", "yes" if est.fits else f"NO — {est.why_not}"),
    ]
    if est.engine_settings:
        labels.insert(3, ("Engine settings", _settings_text(est.engine_settings)))
        if est.engine_defaults_version:
            labels.insert(4, ("Engine defaults from", est.engine_defaults_version))
    breakdown: list[tuple[str, str]] = []
    if est.memory_gib:
        names = {"total": "total (visible)", "usable": "usable", "weights": "weights",
                 "activations": "activations", "cuda_graphs": "CUDA graphs", "other": "other",
                 "kv_cache": "KV cache"}
        breakdown = [(f"  {names[k]}", f"{v:>7,.2f} GiB  {est.memory_log_lines.get(k, '')}")
                     for k, v in est.memory_gib.items()]
        breakdown.append(("  one max_model_len request", f"{est.max_model_len_kv_gib:>7,.2f} GiB  "
                          f"KV of {est.engine_settings.get('max_model_len', 0):,} tokens"))
    if est.decode_tokens_per_s_per_user is not None:
        labels += [("Concurrency", f"{est.concurrency:,}"),
                   ("Decode speed per user", f"{est.decode_tokens_per_s_per_user:,.1f} tok/s"),
                   ("Output throughput", f"{est.output_tokens_per_s_total:,.0f} tok/s"),
                   ("Time to first token", f"{est.ttft_s:,.2f} s")]
    if fmt in ("csv",):
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["field", "value"])
        w.writerows([[k, v] for k, v in data.items() if k != "notes"])
        return buf.getvalue()
    if fmt == "md":
        if breakdown:
            labels += [("Memory per accelerator", "as the engine's start-up log prints it")] + \
                [(k.strip(), v.strip()) for k, v in breakdown]
        out = ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in labels]
        return "\n".join(out + [f"- {n}" for n in est.notes]) + "\n"
    if breakdown:
        labels += [("Memory per accelerator", "as the engine's start-up log prints it")] + breakdown
    width = max(len(k) for k, _ in labels)
    out = [f"{k:<{width}}  {v}" for k, v in labels] + [f"Note: {n}" for n in est.notes]
    return "\n".join(out) + "\n"


def catalog_rows(catalog: Catalog, section: str) -> list[dict[str, Any]]:
    if section == "accelerators":
        return [{"id": a.id, "name": a.name, "maker": a.maker, "class": a.hardware_class, "family": a.family, "form_factor": a.form_factor,
                 "memory_gb": a.memory_gb, "bandwidth_gbs": a.memory_bandwidth_gbs,
                 "bf16_tflops": a.tflops.get("bf16", a.tflops.get("fp16")), "fp8_tflops": a.tflops.get("fp8"),
                 "fp4_tflops": a.tflops.get("fp4"), "native": ",".join(a.native_dtypes), "tdp_w": a.tdp_w,
                 "source": a.source, "date": a.date} for a in sorted(catalog.accelerators.values(), key=lambda a: a.id)]
    if section == "platforms":
        rows = [{"id": p.id, "kind": "platform", "name": p.name, "maker": p.maker, "form_factor": p.form_factor,
                 "accelerators": ",".join(p.accepts) or f"any {p.form_factor}",
                 "counts": ",".join(map(str, p.gpu_counts)), "base_power_w": p.base_power_w, "link": p.link,
                 "source": p.source, "date": p.date} for p in sorted(catalog.platforms.values(), key=lambda p: p.id)]
        rows += [{"id": s.id, "kind": "system", "name": s.name, "maker": s.maker, "form_factor": "",
                  "accelerators": s.accelerator, "counts": str(s.count), "base_power_w": s.power_w or "",
                  "link": s.platform, "source": s.source, "date": s.date}
                 for s in sorted(catalog.systems.values(), key=lambda s: s.id)]
        return rows
    if section == "models":
        return [{"id": m.id, "name": m.name, "params_b": m.params_b, "active_b": m.active_params_b,
                 "attention": m.attention.kind, "layers": m.layers, "native": m.native_precision,
                 "precisions": ",".join(v.id for v in m.variants), "max_context": m.max_context,
                 "source": m.source, "date": m.date} for m in sorted(catalog.models.values(), key=lambda m: m.id)]
    if section == "prices":
        return [{"price_list": pl.id, "item": o.item, "price": o.price, "currency": pl.currency, "seller": o.seller, "price_date": o.price_date,
                 "condition": o.condition, "stock": o.stock, "source": o.source}
                for pl in sorted(catalog.price_lists.values(), key=lambda p: p.id) for o in pl.offers]
    if section == "engines":
        return [{"id": e.id, "name": e.name, "formats": ",".join(e.formats), "memory_model": e.memory_model,
                 "utilization": e.memory_utilization, "families": ",".join(e.families), "source": e.source}
                for e in sorted(catalog.engines.values(), key=lambda e: e.id)]
    raise ValueError(section)


def render_catalog(catalog: Catalog, section: str, fmt: str = "table") -> str:
    rows = catalog_rows(catalog, section)
    if fmt == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False, default=str) + "\n"
    if fmt == "csv":
        return _csv_dicts(rows, "id")
    shown = [k for k in (rows[0] if rows else {}) if k not in ("source", "date", "name")]
    cells = [["" if r[k] is None else str(r[k]) for k in shown] for r in rows]
    if fmt == "md":
        return "\n".join(md_table(shown, cells)) + "\n"
    return _table(shown, cells, title=f"{len(rows)} {section}")


def render_plans(plans: list[Plan], fmt: str = "table", title: str = "", bands: Bands | None = None) -> str:
    """Several plans (a shortlist, a per-vendor list, a Pareto front): JSON `{"plans": [...]}`."""
    if fmt == "json":
        return json.dumps({"plans": [_plan_json(p, bands) for p in plans]}, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return _csv_dicts([{"rank": i, **row} for i, p in enumerate(plans, 1) for row in plan_rows(p, bands)], "rank")
    t0 = plans[0].totals if plans else None
    headers = ["#", "Buy", "Nodes", "GPUs", "Users", "tok/s/user", "Cost", "Power kW", "vs #1"]
    body = []
    for i, p in enumerate(plans, 1):
        t = p.totals
        what = " + ".join(f"{l.nodes} × {l.system or l.platform} ({l.gpus_per_node} × {l.accelerator}, "
                          f"{l.precision}/{l.engine})" for l in p.lines)
        sellers = sorted({x.seller for x in p.purchases})
        if sellers and len(sellers) <= 3:
            what += f" from {', '.join(sellers)}"
        speed = p.slowest_tokens_per_s_per_user
        slowest = min((l for l in p.lines if l.tokens_per_s_per_user is not None),
                      key=lambda l: l.tokens_per_s_per_user, default=None)
        delta = "" if i == 1 or not t0 else f"+{float(t.cost - t0.cost):,.0f}" if t.cost >= t0.cost \
            else f"{float(t.cost - t0.cost):,.0f}"
        body.append([str(i), what, str(t.nodes), str(t.gpus), f"{t.users:,}",
                     _speed_cell(speed, slowest.accelerator if slowest else "", bands), _money(t.cost, t.currency),
                     _num(t.power_w / 1000), delta])
    if fmt == "md":
        return "\n".join([f"**{title}**", ""] + md_table(headers, body)) + "\n"
    return (title + "\n" if title else "") + _table(headers, body, right={0, 2, 3, 4, 5, 6, 7, 8})


def render_sweep(points, kind: str, fmt: str = "table", title: str = "") -> str:
    """One row per sweep point; JSON `{"plans": [...]}` with `sweep_value`, infeasible points included."""
    if fmt == "json":
        out = []
        for pt in points:
            if pt.plan is not None:
                out.append({"sweep_value": pt.value, **pt.plan.to_json()})
            else:
                out.append({"sweep_value": pt.value, "status": "infeasible", "objective": None, "plan": None,
                            "explanation": pt.explanation})
        return json.dumps({"plans": out}, indent=2, ensure_ascii=False) + "\n"
    label = "Users" if kind == "users" else "Budget"
    headers = [label, "Status", "Cost", "Users served", "Nodes", "Power kW", "Buy"]
    body = []
    for pt in points:
        if pt.plan is None:
            body.append([f"{pt.value:,.0f}", "infeasible", "—", "—", "—", "—",
                         (pt.explanation or {}).get("summary", "")[:70]])
            continue
        t = pt.plan.totals
        what = " + ".join(f"{l.nodes} × {l.item}" for l in pt.plan.lines)
        body.append([f"{pt.value:,.0f}", pt.plan.status, _money(t.cost, t.currency), f"{t.users:,}", str(t.nodes),
                     _num(t.power_w / 1000), what])
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(headers)
        w.writerows(body)
        return buf.getvalue()
    if fmt == "md":
        return "\n".join(md_table(headers, body)) + "\n"
    return (title + "\n" if title else "") + _table(headers, body, right={0, 2, 3, 4, 5})
