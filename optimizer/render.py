"""Render plans, estimates and catalog listings as table, JSON, CSV or Markdown text.

Rendering returns strings; only the CLI writes them. The terminal table is what a
purchaser reads first: what to buy, how many, what it costs, what it draws and
whom it serves. rich is imported only here, only when used; CSV text goes through
pandas (optimizer/frames.py), imported only when a CSV is written.
"""

from __future__ import annotations

import io
import json
import re
from fractions import Fraction
from typing import Any

from catalog import Catalog

from .documents import ErrorBand, band_json, band_short, band_text
from .estimator import Estimate
from .frames import csv_text
from .plan import Plan, money_json
from .textlayout import narrow_table, wrap

__all__ = ["render_plan", "render_estimate", "render_catalog", "render_infeasible", "plan_rows", "FORMATS",
           "catalog_rows", "workload_text"]

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
    return csv_text(rows, list(rows[0]) if rows else [empty_header])


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


def _sources(plan: Plan, items: set[str] | tuple[str, ...], sellers: tuple[str, ...] = ()) -> str:
    """The public sources of the offers `items` were bought from (one each, in purchase order)."""
    return "; ".join(dict.fromkeys(p.source for p in plan.purchases
                                   if p.item in items and p.source and (not sellers or p.seller in sellers)))


def _rack_text(r) -> str:
    """'1 × rack-42u-air for 1 × mi300x-8x (4 per rack; fullest rack 9.6 of 40 kW, air-cooled)'; network racks:
    '1 × rack-42u-air for the network switches (1U, 1.5 kW max of 40 kW per rack)'."""
    if r.load_w is not None:
        return (f"{r.racks} × {r.rack} for the network switches ({r.load_units}U, {r.load_w / 1000:,.1f} kW max of "
                f"{r.limit_kw:g} kW per rack)")
    return (f"{r.racks} × {r.rack} for {r.nodes} × {r.node_type} ({r.nodes_per_rack} per rack; fullest "
            f"rack {r.fullest_rack_kw:,.1f} of {r.limit_kw:g} kW, {r.cooling}-cooled)")


def plan_rows(plan: Plan, bands: Bands | None = None) -> list[dict[str, Any]]:
    """The plan as flat rows whose `cost` adds up to the plan's total: one row per plan line (kind
    'node': what to buy, how many, whom it serves), then one per network fabric (kind 'network') and one
    per node type's racks (kind 'rack'). Every row names the public sources of the offers it was priced
    from; columns a row has no value for are empty."""
    currency = plan.totals.currency
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
            "currency": currency, "power_w": line.power_w, "memory_gb": round(line.memory_gb, 1),
            "layout": line.layout, "launch": "\n".join(line.launch), "role": line.role,
            "ttft_s": j["ttft_s"], "ttft_p90_s": j["ttft_p90_s"],
        })
        if bands is not None:
            band = bands.get(line.accelerator)
            rows[-1]["speed_model_median_abs_error"] = None if band is None else round(band.median_abs_error, 3)
            rows[-1]["speed_model_error_speculative"] = None if band is None else band.speculative
        rows[-1] |= {"kind": "node", "description": "",
                     "source": _sources(plan, {line.system or "", line.platform, line.accelerator}, line.sellers)}
    blank = dict.fromkeys(rows[0] if rows else ["item"], None)
    for n in plan.network:
        rows.append(blank | {"item": n.fabric, "cost": money_json(n.cost), "currency": currency, "power_w": n.power_w,
                             "kind": "network", "description": _network_text(n), "source": _sources(plan, n.items)})
    for r in plan.racks:
        rows.append(blank | {"item": r.rack, "cost": money_json(r.cost), "currency": currency, "power_w": 0,
                             "kind": "rack", "description": _rack_text(r), "source": _sources(plan, {r.rack})})
    return rows


def objective_phrase(objective: str) -> str:
    """'minimizing cost', or 'maximizing users' for the budget-capped search."""
    return "maximizing users" if objective == "users" else f"minimizing {objective}"


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
             if k not in ("eager", "cuda_graphs") and v not in (None, "")]
    graphs = "CUDA graphs" if settings.get("cuda_graphs", not settings.get("eager")) else (
        "eager" if settings.get("eager") else "no CUDA graphs")
    return ", ".join(parts + [graphs])


def _network_text(n) -> str:
    """One fabric class in words: 'infiniband-400: 16 node ports on 1 × ib-switch-ndr-64p, 16 links, 32 transceivers'."""
    parts = []
    if n.node_ports:
        switches = " + ".join(f"{c} × {i}" for i, c, _ in n.switches) or "no switch priced"
        parts.append(f"{_plural(n.node_ports, 'node port')} of {_plural(n.nodes, 'node')} on {switches}"
                     + (f" (two tiers, {_plural(n.uplinks, 'uplink')})" if n.uplinks else ""))
    if n.direct_links:
        parts.append(f"{_plural(n.direct_links, 'cable')} node to node (two-node replicas, no switch)")
    if n.nics:
        parts.append(f"{_plural(n.nics, 'NIC')} for nodes sold without them")
    parts.append(f"{_plural(n.links, 'link')}, {_plural(n.transceivers, 'transceiver')}, {_money(n.cost)}")
    if n.power_w:
        parts.append(f"{n.power_w / 1000:,.1f} kW max ({n.typical_power_w / 1000:,.1f} typical)")
    return f"{n.fabric}: " + "; ".join(parts)


def wrap_command(cmd: str, first: str, width: int = 80) -> list[str]:
    """A shell command over lines of at most `width` columns (an option stays with its value),
    continued with ' \\' so it can still be copied and run. A shell comment ('# …') wraps as comment lines
    instead: a backslash does not continue a comment, so its next line would run."""
    if cmd.startswith("#"):
        import textwrap

        # never at a hyphen: a flag (--pd-disaggregation) must stay whole for whoever uncomments the command
        body = textwrap.wrap(cmd[1:].strip(), width - max(len(first), 4) - 2, break_on_hyphens=False,
                             break_long_words=False) or [""]
        return [f"{first}# {body[0]}"] + [f"    # {rest}" for rest in body[1:]]
    words, groups = cmd.split(" "), []
    for w in words:
        if groups and groups[-1].count("'") % 2:  # never break inside a quoted string
            groups[-1] += " " + w
        elif groups and groups[-1].startswith("-") and " " not in groups[-1] and not w.startswith("-") \
                and not groups[-1].endswith("&&"):
            groups[-1] += " " + w
        else:
            groups.append(w)
    lines, current = [], first
    for g in groups:
        inside = _mapping_lines(g, width - 2) if len("    " + g) + 2 > width else None
        if inside is not None:   # a JSON / YAML flow mapping too long for a line: broken inside its braces
            if current not in (first, "    "):
                lines.append(current + " \\")
                current = "    "
            lines += [(current if i == 0 else "") + part for i, part in enumerate(inside[:-1])]
            current = ("" if len(inside) > 1 else current) + inside[-1]
        elif current not in (first, "    ") and len(current) + 1 + len(g) + 2 > width:
            lines.append(current + " \\")
            current = "    " + g
        else:
            current = current + g if current in (first, "    ") else current + " " + g
    return lines + [current]


def _mapping_lines(group: str, width: int) -> list[str] | None:
    """A single-quoted JSON object or YAML flow mapping (vLLM's --speculative-config, the YAML lines TensorRT-LLM's
    extra options file is written from) over lines of at most `width` columns, broken after a ', ' between its
    items: inside the quotes the line break and the indent are whitespace JSON and YAML flow style ignore, so the
    argument still parses to the same mapping (vLLM's speculators guide writes --speculative-config over lines
    so). The first piece goes after the caller's 4-space indent, the others get 6. None when `group` is no such
    mapping (any other quoted text would change if broken) or holds no ', ' to break at."""
    start = group.find("'")
    body = group[start + 1:-1] if start >= 0 and group.endswith("'") else ""
    if "{" not in body or not body.endswith("}") or "'" in body:
        return None
    pieces, depth, quoted, last = [], 0, False, 0
    for i, ch in enumerate(group):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "{[":
            depth += 1
        elif not quoted and ch in "}]":
            depth -= 1
        elif not quoted and depth > 0 and group.startswith(", ", i):
            pieces.append(group[last:i + 1])
            last = i + 2
    if not pieces:
        return None
    pieces.append(group[last:])
    out = [pieces[0]]
    for piece in pieces[1:]:
        indent = 4 if len(out) == 1 else 6
        if indent + len(out[-1]) + 1 + len(piece) <= width:
            out[-1] += " " + piece
        else:
            out.append("      " + piece)
    return out


def _role_item(line) -> str:
    """The Buy cell: the item, with its pool in a disaggregated plan."""
    return line.item if line.role == "aggregated" else f"{line.role}: {line.item}"


def _role_text(line, hourly: bool = False) -> str:
    """What each replica of a line does: users (aggregated; requests per hour when `hourly`, a plan sized for a
    request rate), or its pool's rate, TTFT and KV transfer."""
    if line.role == "prefill":
        ttft = "" if line.ttft_p90_s is None else f", TTFT p90 {line.ttft_p90_s:.2f} s"
        kv = "" if line.kv_transfer_s is None else f", KV transfer {line.kv_transfer_s * 1000:,.1f} ms"
        return f"prefill: {line.requests_per_hour_per_replica or 0:,} requests/h each{ttft}{kv}"
    if line.role == "decode":
        side = line.in_domain_prefill
        beside = "" if side is None else (
            f"; prefill beside it: {side.requests_per_hour:,} requests/h"
            + ("" if side.ttft_p90_s is None else f", TTFT p90 {side.ttft_p90_s:.2f} s"))
        return (f"decode: {line.users_per_replica:,} users each, {line.requests_per_hour_per_replica or 0:,} "
                f"requests/h{beside}")
    return f"{line.users_per_replica:,} {'requests/h' if hourly else 'users'} each{_ttft_text(line)}"


def _ttft_text(line) -> str:
    """'; TTFT 0.10 s mean, 0.12 s p90' for a line that states its time to first token, else ''."""
    if line.ttft_s is None:
        return ""
    return f"; TTFT {line.ttft_s:,.2f} s mean" + ("" if line.ttft_p90_s is None else f", {line.ttft_p90_s:,.2f} s p90")


def render_plan(plan: Plan, fmt: str = "table", bands: Bands | None = None) -> str:
    """One plan; `bands` (accelerator → error band) puts the speed model's validated error next to each line."""
    if fmt == "json":
        return json.dumps(_plan_json(plan, bands), indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return _csv_dicts(plan_rows(plan, bands), "item")
    if fmt == "md":
        return _plan_md(plan, bands)
    return _plan_text(plan, bands)


def _plan_title(plan: Plan) -> str:
    demanded = f"{plan.users_demanded:,} users" if plan.users_demanded else (
        f"{plan.request_rate:g} request{'s' * (plan.request_rate != 1)}/s" if plan.request_rate else "one replica")
    return (f"{plan.problem}: {plan.model} for {demanded}, price list {plan.price_list} — "
            f"{plan.status} plan, {objective_phrase(plan.objective)}")


def _solver_text(plan: Plan) -> str:
    return (f"Solver: {plan.solver.seconds:.2f} s, {plan.solver.units_after_pruning} of "
            f"{plan.solver.units_considered} candidate units after dominance pruning"
            + (f", gap {plan.solver.gap:.2%} (bound {plan.solver.bound:,.0f})" if plan.status != "optimal" else "")
            + "; checked by the independent plan checker.")


def _purchase_text(p) -> str:
    return (f"Buy: {p.quantity} × {p.item}"
            + (f" from {p.seller}" if p.seller != "market estimate" else "")
            + f" at {_money(p.unit_price)} = {_money(p.extended)}"
            + (f" ({p.condition})" if p.condition != "new" else "")
            + (f", price of {p.date}" if p.date else "")
            + (" (market estimate, not a quote)" if p.estimate else ""))


def _plan_notes(plan: Plan, bands: Bands | None, infrastructure: bool) -> list[str]:
    """The lines after the plan's table, one paragraph each (`infrastructure`: with the network, racks
    and facility, which the terminal table shows as rows instead)."""
    extra = []
    if bands is not None:
        extra += [f"Speed model error, {a}: {band_text(bands.get(a))}" for a in sorted({l.accelerator for l in plan.lines})]
    extra += [f"Note: {n}" for n in plan.notes]
    extra += [f"Note: {l.unit}: {l.note}" for l in plan.lines if l.note]
    if plan.workload:
        extra.append(f"Workload assumed: {workload_text(plan.workload)}")
    assumed = [f"Engine settings assumed, {l.item} ({l.engine}"
               + (f", {l.role}" if l.role != "aggregated" else "") + f"): {_settings_text(l.engine_settings)}"
               for l in plan.lines if l.engine_settings]
    extra += list(dict.fromkeys(assumed))   # each once: lines of one node type and role share their settings
    if infrastructure:
        extra += [f"Network: {_network_text(n)}" for n in plan.network]
        extra += [f"Racks: {_rack_text(r)}" for r in plan.racks]
    if plan.facility_power_w is not None:
        extra.append(f"Facility: {plan.facility_power_w / 1000:,.1f} kW = {plan.totals.power_w / 1000:,.1f} kW "
                     f"maximum IT draw × PUE {plan.pue:g}")
    if plan.tco:
        c, cur = plan.tco, plan.totals.currency
        extra.append(f"Total cost of ownership over {c.years:g} years: {_money(c.total, cur)} = capital "
                     f"{_money(c.capex)} + energy {_money(c.energy)} (at {c.price_per_kwh:g} {cur}/kWh, PUE "
                     f"{c.pue:g}) + hosting {_money(c.hosting)}")
    extra += [_purchase_text(p) for p in plan.purchases]
    extra += [f"Exchange rate: {r}" for r in plan.exchange_rates]
    extra += [f"Left out — {l}" for l in plan.left_out]
    return extra


def _draft_tokens(k: int) -> str:
    """'1 draft token', 'k draft tokens' (per step)."""
    return f"{k} draft token" + ("" if k == 1 else "s")


def _acceptance_words(sp: dict[str, Any], fmt: str) -> str:
    """'acceptance 0.7' (each draft's, as --spec-acceptance takes it), or 'first draft accepted 0.92 (published MTP
    acceptance lengths)' where the tokens per step come from MTP's published table (serving.Speculative
    `acceptance_of`): its later drafts are accepted less often than the first."""
    if sp.get("acceptance_of") == "first draft":
        return f"first draft accepted {fmt.format(sp['acceptance'])} (published MTP acceptance lengths)"
    return f"acceptance {fmt.format(sp['acceptance'])}"


def workload_text(w: dict[str, Any]) -> str:
    """A plan's workload (`Plan.workload`: token lengths, speed and TTFT targets, arrivals or request rate,
    speculative decoding) in one line for people: '2,000 in / 1,000 out tokens per request, ≥ 20 tok/s per user,
    TTFT p90 ≤ 2 s, random arrivals, ...'. The table, markdown and HTML report all word it so."""
    parts = [f"{w['input_tokens']:,} in / {w['output_tokens']:,} out tokens per request"]
    if w.get("input_tokens_spread"):
        parts[0] += f" (prompts ± {w['input_tokens_spread']:.0%})"
    if w.get("min_tokens_per_s"):
        parts.append(f"≥ {w['min_tokens_per_s']:g} tok/s per user")
    if w.get("max_ttft_s") is not None:
        which = "mean" if w.get("ttft_percentile") == 50 else "p90"
        parts.append(f"TTFT {which} ≤ {w['max_ttft_s']:g} s")
    if w.get("request_rate") is not None:
        parts.append(f"{w['request_rate']:g} requests/s, Poisson arrivals (Users counts requests per hour)")
    else:
        parts.append(f"{w.get('arrivals', 'random')} arrivals")
    sp = w.get("speculative")
    if sp:
        parts.append(f"speculative decoding {sp['method']}, {_draft_tokens(sp['tokens'])}, "
                     f"{_acceptance_words(sp, '{:g}')}: {sp['tokens_per_step']:g} tokens per step")
    return ", ".join(parts)


def _plan_md(plan: Plan, bands: Bands | None) -> str:
    t = plan.totals
    headers = ["Buy", "Nodes", "GPUs", "Precision / engine", "Users", "tok/s/user", "Cost", "Power kW"]
    body = [[_role_item(line), str(line.nodes) + (f" ({line.replicas}×{line.nodes_per_replica})" if line.nodes_per_replica > 1 else ""),
             str(line.gpus), f"{line.precision} / {line.engine}",
             ("—" if line.role == "prefill" else
              f"{line.users:,}" + (f" ({line.replicas}×{line.users_per_replica})" if line.replicas > 1 else "")),
             _speed_cell(line.tokens_per_s_per_user, line.accelerator, bands), _money(line.cost),
             _num(line.power_w / 1000)] for line in plan.lines]
    footer = ["Total", str(t.nodes), str(t.gpus), f"{t.memory_gb:,.0f} GB", f"{t.users:,}", "",
              _money(t.cost, t.currency), _num(t.power_w / 1000)]
    extra = [_solver_text(plan)] + _serving_text(plan)
    for i, l in enumerate(plan.lines, 1):
        if l.layout:
            extra.append(f"Line {i}: {l.layout} ({l.engine}): {l.replicas} replica{'s' * (l.replicas != 1)} on "
                         f"{l.nodes} node{'s' * (l.nodes != 1)}, " + _role_text(l, plan.request_rate is not None))
        extra += [f"  $ {cmd}" for cmd in l.launch]
    extra += _plan_notes(plan, bands, infrastructure=True)
    lines = [f"**{_plan_title(plan)}**", ""] + md_table(headers, body)
    lines += ["| " + " | ".join(f"**{c}**" if c else "" for c in footer) + " |", ""]
    lines += [f"- {e}" for e in extra]
    return "\n".join(lines) + "\n"


def _plural(n: int, word: str) -> str:
    """'1 node', '2 nodes': a count with its noun in the right number."""
    return f"{n:,} {word}{'s' * (n != 1)}"


def _line_detail(line, hourly: bool = False) -> str:
    """'8 × h20-96g per node, fp8/vllm, TP8 × PP2 over 2 nodes: 1 replica of 1 user' (a pool of a
    disaggregated plan: its role, rate, TTFT and KV transfer instead of the users)."""
    head = (f"{line.gpus_per_node} × {line.accelerator} per node, {line.precision}/{line.engine}"
            + (f", {line.layout}" if line.layout else ""))
    if line.role != "aggregated":
        return f"{head}: {_plural(line.replicas, 'replica')}, {_role_text(line, hourly)}"
    served = f"{line.users_per_replica:,} requests/h" if hourly else _plural(line.users_per_replica, 'user')
    return head + f": {_plural(line.replicas, 'replica')} of {served}{_ttft_text(line)}"


def _serving_text(plan: Plan) -> list[str]:
    """The paragraph a disaggregated plan adds: what its two pools do."""
    if plan.serving != "disaggregated":
        return []
    beside = any(line.in_domain_prefill is not None for line in plan.lines)
    return ["Serving: disaggregated — a prefill pool and a decode pool; each prompt's KV cache is sent "
            "from prefill to decode over the scale-out network"
            + (" (inside a rack-scale node with prefill beside its decode: over its own NVLink domain)."
               if beside else ".")]


def _plan_text(plan: Plan, bands: Bands | None) -> str:
    """The plan for an 80-column terminal: one row per line, network fabric and racks (they add up to
    the total), each with its details on an indented line; then the launch commands and the notes."""
    t = plan.totals
    headers = ["#", "Buy", "Nodes", "GPUs", "Users", "tok/s/user", f"Cost {t.currency}", "kW"]
    rows, details = [], []
    for i, l in enumerate(plan.lines, 1):
        rows.append([str(i), ("" if l.role == "aggregated" else f"{l.role}: ") + (l.system or l.platform),
                     str(l.nodes), str(l.gpus), "—" if l.role == "prefill" else f"{l.users:,}",
                     _speed_cell(l.tokens_per_s_per_user, l.accelerator, bands), _money(l.cost),
                     _num(l.power_w / 1000)])
        details.append([_line_detail(l, plan.request_rate is not None)])
    for n in plan.network:
        rows.append(["", n.fabric, "", "", "", "", _money(n.cost) if n.priced else "—", _num(n.power_w / 1000)])
        details.append([_network_text(n).split(": ", 1)[1]])
    for r in plan.racks:
        rows.append(["", r.rack, "", "", "", "", _money(r.cost) if r.cost else "—", ""])
        details.append([_rack_text(r) + ("" if r.cost else "; not priced")])
    footer = ["", "Total", str(t.nodes), str(t.gpus), f"{t.users:,}", "", _money(t.cost), _num(t.power_w / 1000)]
    out = wrap(_plan_title(plan))
    out += narrow_table(headers, rows, details, footer, right={2, 3, 4, 5, 6, 7})
    legend = (f"{t.gpus:,} accelerators with {t.memory_gb:,.0f} GB of memory. "
              + ("Users: requests per hour the plan takes. " if plan.request_rate is not None else "")
              + "tok/s/user: decode speed each user "
              f"sees" + (" (± the speed model's median error on that hardware family)" if bands is not None else "")
              + "; kW: maximum draw.")
    out += wrap(legend) + wrap(_solver_text(plan))
    for text in _serving_text(plan):
        out += wrap(text)
    for i, l in enumerate(plan.lines, 1):
        if l.launch:
            out.append(f"Line {i} starts with:")
        for cmd in l.launch:
            out += wrap_command(cmd, "  $ ")
    for text in _plan_notes(plan, bands, infrastructure=False):
        out += wrap(text)
    return "\n".join(out) + "\n"


def render_infeasible(explanation: dict, fmt: str) -> str:
    if fmt == "json":
        return json.dumps({"status": "infeasible", "objective": None, "plan": None, "explanation": explanation},
                          indent=2, ensure_ascii=False) + "\n"
    return explanation["summary"] + "\n"


def render_estimate(est: Estimate, fmt: str = "table") -> str:
    """One replica's estimate: JSON as `Estimate.to_json`; CSV one field per row (nested records flattened
    to memory_gib.kv_cache); a table of labelled values, the memory breakdown per accelerator in the
    engine's start-up log wording, the launch commands and the notes (Markdown: the same as a table)."""
    data = est.to_json()
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return _estimate_csv(data)
    labels = _estimate_labels(est)
    breakdown = _memory_breakdown(est)
    if fmt == "md":
        return _estimate_md(est, labels, breakdown)
    if breakdown:
        labels += [("Memory per accelerator", "as the engine's start-up log prints it")] + breakdown
    width = max(len(k) for k, _ in labels)
    out = []
    for k, v in labels:
        # Wrap long values (the verdict's reason) to an 80-column terminal, continuing under the value.
        parts = wrap(v, width=78 - width, more="") or [""]
        out += [f"{k:<{width}}  {parts[0]}"] + [f"{'':<{width}}  {p}" for p in parts[1:]]
    for cmd in est.launch:
        out += wrap_command(cmd, "Launch: ")
    for cmd in (est.disaggregated or {}).get("launch", []):
        out += wrap_command(cmd, "Split: ")
    for n in est.notes:
        out += wrap(f"Note: {n}")
    return "\n".join(out) + "\n"


def _estimate_md(est: Estimate, labels: list[tuple[str, str]], breakdown: list[tuple[str, str]]) -> str:
    """`render_estimate` as Markdown: the labelled values and the memory breakdown as a table, then the launch
    commands (and the disaggregated split's) and the notes."""
    if breakdown:
        labels = labels + [("Memory per accelerator", "as the engine's start-up log prints it")] + \
            [(k.strip(), v.strip()) for k, v in breakdown]
    out = ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in labels]
    out += ["", "Launch:", ""] + [f"- `{cmd}`" for cmd in est.launch]
    if est.disaggregated:
        out += ["", "Launch, disaggregated split:", ""] + [f"- `{cmd}`" for cmd in est.disaggregated["launch"]]
    return "\n".join(out + [f"- {n}" for n in est.notes]) + "\n"


def _estimate_csv(data: dict[str, Any]) -> str:
    rows = []
    for k, v in data.items():
        if k in ("notes", "memory_log_lines"):
            continue
        # Nested records (memory_gib, engine_settings) flatten to one row per field: memory_gib.kv_cache.
        if k == "launch":
            rows += [[k, "\n".join(v)]]
            continue
        rows += [[f"{k}.{sub}", "\n".join(x) if isinstance(x, list) else x] for sub, x in v.items()] \
            if isinstance(v, dict) else [[k, v]]
    return csv_text(rows, ["field", "value"])


def _draft_text(est) -> str:
    """What the weights line adds about a speculative-decoding draft: the MTP module loaded or not, an EAGLE-3 head."""
    if est.mtp_module_loaded:
        return f", with the {est.mtp_module_gb:,.1f} GB MTP module"
    text = (f"; the checkpoint's {est.mtp_module_gb:,.1f} GB MTP module is not loaded (only for --speculative mtp)"
            if est.mtp_module_gb else "")
    if est.draft_weights_gb:
        text += f", with a {est.draft_weights_gb:,.1f} GB EAGLE-3 head (16-bit, estimated)"
    return text


def _estimate_labels(est: Estimate) -> list[tuple[str, str]]:
    """(label, value) rows: the replica, its engine settings, memory and KV sizing, and its speed."""
    labels = [
        ("Model / precision", f"{est.model} in {est.precision}" + (
            f" (asked {est.requested_precision})" if est.requested_precision not in ("auto", est.precision) else "")),
        ("Hardware", f"{est.gpus} × {est.accelerator} on {est.nodes} node(s), {est.platform}"),
        ("Engine / layout", f"{est.engine}, {est.layout}"),
        ("Memory installed", f"{est.memory_gb:,.0f} GB"),
        ("Weights", f"{est.weights_gb:,.1f} GB ({est.weights_per_gpu_gb:,.1f} GB per accelerator)" + _draft_text(est)),
        ("KV budget per accelerator", f"{est.kv_budget_per_gpu_gb:,.1f} GB" if est.kv_budget_per_gpu_gb >= 0 else
         f"none: {-est.kv_budget_per_gpu_gb:,.1f} GB short"),
        ("KV bytes per token", f"{est.kv_bytes_per_token:,.0f} B ({est.kv_dtype})"),
        ("KV capacity", f"{est.kv_capacity_tokens:,} tokens"),
        ("Request", f"{est.input_tokens:,} in / {est.output_tokens:,} out tokens"
         + (f" (prompts ± {est.input_tokens_spread:.0%})" if est.input_tokens_spread else "")),
        ("Max concurrency", f"{est.max_concurrency:,} requests of {est.context_tokens:,} tokens"),
        ("Fits", "yes" if est.fits else f"NO — {est.why_not}"),
    ]
    if est.engine_settings:
        labels[3:3] = _settings_labels(est)
    if est.role == "prefill" and est.prefill_input_tokens_per_s is not None:
        labels += _prefill_labels(est)
    elif est.decode_tokens_per_s_per_user is not None:
        labels += _speed_labels(est)
    if est.disaggregated:
        labels += _split_labels(est.disaggregated)
    return labels


def _split_labels(d: dict[str, Any]) -> list[tuple[str, str]]:
    """`--serving disaggregated`: the prefill and decode pools the accelerators split into (optimizer/rackscale.py)."""
    span = f" over {d['decode_nodes_per_replica']} nodes" if d["decode_nodes_per_replica"] > 1 else ""
    return [("Disaggregated split", f"{d['prefill_gpus']} prefill + {d['decode_gpus']} decode of {d['gpus']} "
                                    f"accelerators, each user ≥ {d['min_tokens_per_s']:g} tok/s"),
            ("  prefill", f"{d['prefill_layout']} ({d['prefill_replica_gpus']} each): "
                          f"{d['prefill_input_tokens_per_s_per_gpu']:,.0f} input tok/s per accelerator"),
            ("  decode", f"{d['decode_layout']}{span}, batch {d['decode_batch']:,}, TPOT "
                         f"{d['decode_tpot_s'] * 1000:,.0f} ms: {d['decode_output_tokens_per_s_per_gpu']:,.0f} "
                         f"output tok/s per accelerator"),
            ("  output", f"{d['output_tokens_per_s']:,.0f} tok/s, {d['output_tokens_per_s_per_gpu']:,.0f} per "
                         f"accelerator ({d['requests_per_s']:,.1f} requests/s)")]


def _settings_labels(est: Estimate) -> list[tuple[str, str]]:
    st = est.engine_settings
    batch = "engine default" if st.get("max_batch") is None else f"{st['max_batch']:,}"
    if est.dp > 1 and st.get("max_batch") is not None:
        batch += f" per attention DP group ({st['max_batch'] * est.dp:,} in all)"
    graphs = "CUDA graphs" if st.get("cuda_graphs", not st.get("eager")) else (
        "eager (no CUDA graphs)" if st.get("eager") else "no CUDA graphs")
    out = [("Engine settings", f"utilization {st['memory_utilization']:g}, max batch {batch}"),
           ("", f"{st['max_batched_tokens']:,} tokens/step, max_model_len {st['max_model_len']:,}, {graphs}")]
    if st.get("engine_version"):
        out.append(("Engine release", f"{st['engine_version']} (memory rules as of "
                                      f"{st.get('memory_rules_version') or 'the base release'})"))
    if est.engine_defaults_version:
        out.append(("Defaults from", est.engine_defaults_version))
    return out


def _prefill_labels(est: Estimate) -> list[tuple[str, str]]:
    """`--role prefill`: the replica's prompt throughput, one prompt's time alone and the launch floor."""
    return [("Role", f"prefill pool (one prompt per attention DP group, {est.batch:,} per forward pass)"),
            ("Prefill throughput", f"{est.prefill_input_tokens_per_s:,.0f} input tok/s "
                                   f"({est.prefill_input_tokens_per_s / est.gpus:,.0f} per accelerator)"),
            ("One prompt alone", f"{est.ttft_s:,.2f} s (TTFT without queueing or the KV transfer)")] \
        + _launch_floor_labels(est)


def _launch_floor_labels(est: Estimate) -> list[tuple[str, str]]:
    """The eager prefill's launch floor per step, where the release or eager mode has one."""
    if est.prefill_launch_floor_s <= 0:
        return []
    cause = "eager mode" if est.engine_settings.get("eager") else "this release"
    return [("Prefill launch floor", f"{est.prefill_launch_floor_s * 1000:,.0f} ms per prefill step ({cause} "
             "prefills outside CUDA graphs)")]


def _speed_labels(est: Estimate) -> list[tuple[str, str]]:
    out = [("As one replica", f"{est.layout}, aggregated (the disaggregated split follows)")] if est.disaggregated \
        else [("Role", "decode pool (no prompt in its steps; prompts run on the prefill pool)")] \
        if est.role == "decode" else []
    out += [("Concurrency", f"{est.concurrency:,}"),
           ("Decode speed per user", f"{est.decode_tokens_per_s_per_user:,.1f} tok/s"),
           ("Output throughput", f"{est.output_tokens_per_s_total:,.0f} tok/s"
            + (f" ({est.output_tokens_per_s_total / est.gpus:,.0f} per accelerator)" if est.role else ""))]
    if est.ttft_s is not None:
        median = "" if est.ttft_median_s is None else f"{est.ttft_median_s:,.2f} s median, "
        out.append(("Time to first token", f"{est.ttft_s:,.2f} s mean, {median}{est.ttft_p90_s:,.2f} s p90"
                    + (" (synchronized arrivals)" if est.arrivals == "synchronized" else "")
                    + (f" at {est.request_rate:g} requests/s" if est.request_rate is not None else "")))
    if est.role != "decode":   # a decode pool runs no prompt
        out += _launch_floor_labels(est)
    if est.speculative:
        sp = est.speculative
        out.append(("Speculative decoding", f"{sp['method']}, {_draft_tokens(sp['tokens'])}, "
                    f"{_acceptance_words(sp, '{:.2f}')}: {sp['tokens_per_step']:.2f} tokens per step"))
    return out


def _memory_breakdown(est: Estimate) -> list[tuple[str, str]]:
    """Per accelerator, as the engine's start-up log prints it: each memory term, one max_model_len
    request's KV and the concurrency it allows."""
    if not est.memory_gib:
        return []
    names = {"total": "total (visible)", "usable": "usable", "weights": "weights",
             "activations": "activations", "cuda_graphs": "CUDA graphs", "other": "other",
             "kv_cache": "KV cache"}
    lines = est.memory_log_lines

    def row(key: str, gib: float) -> tuple[str, str]:
        if key == "kv_cache" and gib < 0:   # the terms above take more than the usable memory: no KV cache at all
            return f"  {names[key]}", f"{0:>7,.2f} GiB  none: the terms above are {-gib:,.2f} GiB over usable"
        return f"  {names[key]}", f"{gib:>7,.2f} GiB  {lines.get(key, '')}"

    breakdown = [row(k, v) for k, v in est.memory_gib.items()]
    breakdown.append(("  one max_model_len request", f"{est.max_model_len_kv_gib:>7,.2f} GiB  "
                      f"KV of {est.engine_settings.get('max_model_len', 0):,} tokens; "
                      f"{lines.get('request', '')}"))
    breakdown.append(("  max concurrency", f"{est.max_model_len_concurrency:>7,.2f} x    "
                      f"{lines.get('concurrency', '')}"))
    return breakdown


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
                  "accelerators": s.accelerator, "counts": str(s.count), "base_power_w": s.max_power_w or "",
                  "link": s.platform, "source": s.source, "date": s.date}
                 for s in sorted(catalog.systems.values(), key=lambda s: s.id)]
        return rows
    if section == "models":
        return [{"id": m.id, "name": m.name, "params_b": m.params_b, "active_b": m.active_params_b,
                 "attention": m.attention.kind, "layers": m.layers, "native": m.native_precision,
                 "mtp": f"{m.mtp.layers} module{'s' * (m.mtp.layers > 1)}, {m.mtp.params_b:g}B" if m.mtp else "",
                 "precisions": ",".join(v.id for v in m.variants), "max_context": m.max_context,
                 "source": m.source, "date": m.date} for m in sorted(catalog.models.values(), key=lambda m: m.id)]
    if section == "prices":
        return [{"price_list": pl.id, "item": o.item, "price": o.price, "currency": pl.currency, "seller": o.seller,
                 "condition": o.condition, "price_date": o.price_date, "retrieved": o.retrieved,
                 "estimate": o.estimate, "stock": o.stock, "warranty_months": o.warranty_months,
                 "lead_time_weeks": o.lead_time_weeks, "valid_from": o.valid_from, "valid_until": o.valid_until,
                 "source": o.source, "notes": o.notes}
                for pl in sorted(catalog.price_lists.values(), key=lambda p: p.id) for o in pl.offers]
    if section == "network":
        rows = [{"id": n.id, "kind": n.kind, "name": n.name, "protocol": n.protocol, "gbps": n.gbps,
                 "ports": n.ports or "", "source": n.source, "date": n.date}
                for n in sorted(catalog.network_items.values(), key=lambda n: (n.kind, n.protocol, n.gbps, n.id))]
        rows += [{"id": r.id, "kind": "rack", "name": r.name, "protocol": r.cooling, "gbps": "",
                  "ports": f"{r.rack_units}U, {r.max_kw:g} kW", "source": r.source, "date": r.date}
                 for r in sorted(catalog.racks.values(), key=lambda r: r.id)]
        return rows
    if section == "engines":
        return [{"id": e.id, "name": e.name, "formats": ",".join(e.formats), "memory_model": e.memory_model,
                 "utilization": e.memory_utilization, "defaults": e.memory.defaults_version,
                 "versions": ", ".join(e.memory.known_versions()),
                 "families": ",".join(e.families), "source": e.source}
                for e in sorted(catalog.engines.values(), key=lambda e: e.id)]
    raise ValueError(section)


# Columns of `hwplan catalog prices` as a table or Markdown; JSON and CSV carry every field.
PRICE_COLUMNS = ("item", "price", "seller", "condition", "price_date", "source")


def _prices_table(rows: list[dict[str, Any]], width: int = 80) -> str:
    """One table per price list in `width` columns: items stay whole, sellers wrap, sources are cut with
    '…' (the JSON output has every field whole)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    short = {"new": "new", "used": "used", "refurbished": "refb"}
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, force_terminal=False)
    for list_id in dict.fromkeys(r["price_list"] for r in rows):
        mine = [r for r in rows if r["price_list"] == list_id]
        # Content widths (items whole, never folded); the table adds a leading space and one between columns.
        fixed = {"Item": max(len(r["item"]) for r in mine), "Price": 10, "Seller": 14, "Cond.": 4, "Date": 10}
        source_width = max(8, width - 2 - len(fixed) - sum(fixed.values()))
        table = Table(title=f"{list_id} ({mine[0]['currency']}): {len(mine)} offers; est. = market estimate",
                      box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False, padding=(0, 0))
        for name, w in fixed.items():
            table.add_column(name, width=w, justify="right" if name == "Price" else "left", overflow="fold",
                             no_wrap=name in ("Price", "Cond.", "Date"))
        table.add_column("Source", width=source_width, no_wrap=True, overflow="ellipsis")
        for r in mine:
            seller = "est." if r["seller"] == "market estimate" else r["seller"] + (" (est.)" if r["estimate"] else "")
            table.add_row(r["item"], f"{r['price']:,.2f}".removesuffix(".00"), seller,
                          short.get(r["condition"], r["condition"]), r["price_date"], " ".join(r["source"].split()))
        console.print(table)
    lines = [line.rstrip() for line in buf.getvalue().splitlines()]
    return "\n".join(line for line in lines if line) + "\n"


def render_catalog(catalog: Catalog, section: str, fmt: str = "table", price_lists: tuple[str, ...] = ()) -> str:
    """The catalog's `section` as text; `price_lists` keeps only those lists' offers (CatalogError if unknown)."""
    rows = catalog_rows(catalog, section)
    if price_lists:
        wanted = {catalog.price_list(p, "--price-list").id for p in price_lists}
        rows = [r for r in rows if r.get("price_list") in wanted]
    if fmt == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False, default=str) + "\n"
    if fmt == "csv":
        return _csv_dicts(rows, "id")
    if section == "prices":
        if fmt == "md":
            def cell(r: dict[str, Any], k: str) -> str:
                if k == "price":
                    return f"{r[k]:,.2f}".removesuffix(".00")
                return "" if r[k] is None else " ".join(str(r[k]).split())
            return "\n".join(md_table(["price list", *PRICE_COLUMNS, "currency"],
                                      [[r["price_list"], *(cell(r, k) for k in PRICE_COLUMNS), r["currency"]]
                                       for r in rows])) + "\n"
        return _prices_table(rows)
    if fmt == "md":
        shown = [k for k in (rows[0] if rows else {}) if k not in ("source", "date", "name")]
        return "\n".join(md_table(shown, [["" if r[k] is None else str(r[k]) for k in shown] for r in rows])) + "\n"
    return _catalog_text(rows, section)


# Per catalog section, for an 80-column terminal: the table's columns (row key, header), the keys on the
# detail line under each row (the name first), and a legend. JSON, CSV and Markdown carry every field.
_CATALOG_LAYOUT: dict[str, tuple[list[tuple[str, str]], list[str], str]] = {
    "accelerators": ([("id", "id"), ("maker", "maker"), ("memory_gb", "GB"), ("bandwidth_gbs", "GB/s"),
                      ("bf16_tflops", "bf16"), ("fp8_tflops", "fp8"), ("fp4_tflops", "fp4"), ("tdp_w", "TDP W")],
                     ["name", "class", "family", "form_factor", "native"],
                     "GB: memory; GB/s: memory bandwidth; bf16, fp8, fp4: dense peak TFLOPS at that datatype "
                     "(empty: none listed); TDP W: thermal design power."),
    "platforms": ([("id", "id"), ("kind", "kind"), ("maker", "maker"), ("form_factor", "form"),
                   ("counts", "accelerators"), ("base_power_w", "base W")],
                  ["name", "accelerators", "link"],
                  "accelerators: how many one node holds; base W: maximum draw without the accelerators (a "
                  "system: the whole node). Under each: the accelerators it takes, and its link (native fabric "
                  "or PCIe; a system: the platform it is built on)."),
    "models": ([("id", "id"), ("params_b", "params"), ("active_b", "active"), ("attention", "attn"),
                ("native", "native"), ("max_context", "context")],
               ["name", "layers", "mtp", "precisions"],
               "params, active: total and active parameters, billions; attn: attention kind; native: the "
               "precision the publisher ships; context: longest context, tokens. Under each: its "
               "multi-token-prediction (MTP) modules where it ships them (--speculative mtp runs them)."),
    "engines": ([("id", "id"), ("formats", "formats"), ("memory_model", "memory"), ("utilization", "util."),
                 ("versions", "versions")],
                ["name", "defaults", "families"],
                "memory: the engine's memory rules; util.: default memory utilization; versions: releases "
                "whose memory rules the catalog sources."),
    "network": ([("id", "id"), ("kind", "kind"), ("protocol", "protocol"), ("gbps", "Gb/s"), ("ports", "ports")],
                ["name"], "Gb/s: port speed; ports: switch ports (a rack: height and kW it may take)."),
}


_LIST_COMMA = re.compile(r",(?=\S)")   # 'bf16,fp16' → 'bf16, fp16', so a long list wraps between items


def _catalog_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _catalog_text(rows: list[dict[str, Any]], section: str) -> str:
    """A catalog section for an 80-column terminal: the short fields in columns, the name and the lists
    on an indented line under each row."""
    columns, detail_keys, legend = _CATALOG_LAYOUT[section]
    cells = [[_catalog_cell(r.get(k)) for k, _ in columns] for r in rows]
    right = {i for i, (k, _) in enumerate(columns)
             if any(isinstance(r.get(k), (int, float)) and not isinstance(r.get(k), bool) for r in rows)}
    details = []
    for r in rows:
        parts = [str(r["name"])] if r.get("name") else []
        parts += [f"{k.replace('_', ' ')}: {_LIST_COMMA.sub(', ', str(r[k]))}" for k in detail_keys[1:]
                  if r.get(k) not in (None, "")]
        details.append(["; ".join(parts)] if parts else [])
    out = [f"{len(rows)} {section}"] + narrow_table([h for _, h in columns], cells, details, right=right)
    return "\n".join(out + wrap(legend)) + "\n"


def render_plans(plans: list[Plan], fmt: str = "table", title: str = "", bands: Bands | None = None) -> str:
    """Several plans (a shortlist, a per-vendor list, a Pareto front): JSON `{"plans": [...]}`."""
    if fmt == "json":
        return json.dumps({"plans": [_plan_json(p, bands) for p in plans]}, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return _csv_dicts([{"rank": i, **row} for i, p in enumerate(plans, 1) for row in plan_rows(p, bands)], "rank")
    if fmt == "md":
        return _plans_md(plans, title, bands)
    t0 = plans[0].totals if plans else None
    currency = t0.currency if t0 else ""
    headers = ["#", "Nodes", "GPUs", "Users", "tok/s/user", f"Cost {currency}", "kW", "vs #1"]
    rows, details = [], []
    for i, p in enumerate(plans, 1):
        t = p.totals
        speed, slowest = _slowest(p)
        rows.append([str(i), str(t.nodes), str(t.gpus), f"{t.users:,}", _speed_cell(speed, slowest, bands),
                     _money(t.cost), _num(t.power_w / 1000), _delta(t, t0) if i > 1 else ""])
        details.append([f"{l.nodes} × {l.system or l.platform} ({l.gpus_per_node} × {l.accelerator}), "
                        f"{l.precision}/{l.engine}" for l in p.lines] + _sellers_text(p))
    out = wrap(title) if title else []
    out += narrow_table(headers, rows, details, right={0, 1, 2, 3, 4, 5, 6, 7})
    out += wrap("Under each plan: what it buys (nodes × node type, accelerators per node, precision/engine) and "
                "from whom. tok/s/user: the slowest line's decode speed per user"
                + (" (± the speed model's median error)" if bands is not None else "") + "; kW: maximum draw.")
    return "\n".join(out) + "\n"


def _slowest(plan: Plan) -> tuple[float | None, str]:
    """The slowest line's tok/s per user and its accelerator."""
    slowest = min((l for l in plan.lines if l.tokens_per_s_per_user is not None),
                  key=lambda l: l.tokens_per_s_per_user, default=None)
    return plan.slowest_tokens_per_s_per_user, slowest.accelerator if slowest else ""


def _delta(t, t0) -> str:
    """'+200,000' or '-5,000': the cost against the first plan's."""
    return f"+{float(t.cost - t0.cost):,.0f}" if t.cost >= t0.cost else f"{float(t.cost - t0.cost):,.0f}"


def _sellers_text(plan: Plan) -> list[str]:
    sellers = sorted({x.seller for x in plan.purchases})
    return [f"from {', '.join(sellers)}"] if sellers and len(sellers) <= 3 else []


def _plans_md(plans: list[Plan], title: str, bands: Bands | None) -> str:
    t0 = plans[0].totals if plans else None
    headers = ["#", "Buy", "Nodes", "GPUs", "Users", "tok/s/user", "Cost", "Power kW", "vs #1"]
    body = []
    for i, p in enumerate(plans, 1):
        t = p.totals
        what = " + ".join(("" if l.role == "aggregated" else f"{l.role} ")
                          + f"{l.nodes} × {l.system or l.platform} ({l.gpus_per_node} × {l.accelerator}, "
                          f"{l.precision}/{l.engine})" for l in p.lines)
        what += "".join(f" {s}" for s in _sellers_text(p))
        speed, slowest = _slowest(p)
        body.append([str(i), what, str(t.nodes), str(t.gpus), f"{t.users:,}", _speed_cell(speed, slowest, bands),
                     _money(t.cost, t.currency), _num(t.power_w / 1000), "" if i == 1 else _delta(t, t0)])
    return "\n".join([f"**{title}**", ""] + md_table(headers, body)) + "\n"


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
    served = "Requests/h served" if _hourly(points) else "Users served"
    headers = [label, "Status", "Cost", served, "Nodes", "Power kW", "Buy"]
    body = []
    for pt in points:
        if pt.plan is None:
            body.append([f"{pt.value:,.0f}", "infeasible", "—", "—", "—", "—",
                         (pt.explanation or {}).get("summary", "")[:70]])
            continue
        t = pt.plan.totals
        what = " + ".join(("" if l.role == "aggregated" else f"{l.role} ") + f"{l.nodes} × {l.item}"
                          for l in pt.plan.lines)
        body.append([f"{pt.value:,.0f}", pt.plan.status, _money(t.cost, t.currency), f"{t.users:,}", str(t.nodes),
                     _num(t.power_w / 1000), what])
    if fmt == "csv":
        return csv_text(body, headers)
    if fmt == "md":
        return "\n".join(md_table(headers, body)) + "\n"
    return _sweep_text(points, label, title)


def _hourly(points) -> bool:
    """True when the sweep's plans are sized by a request rate: their 'users' count requests per hour."""
    return any(pt.plan is not None and pt.plan.request_rate is not None for pt in points)


def _sweep_text(points, label: str, title: str) -> str:
    """The sweep for an 80-column terminal: one row per point, what it buys (or why nothing) under it."""
    currency = next((pt.plan.totals.currency for pt in points if pt.plan is not None), "")
    headers = [label, "Status", f"Cost {currency}".strip(), "Served", "Nodes", "kW"]
    import textwrap

    rows, details, before = [], [], None
    for pt in points:
        if pt.plan is None:
            rows.append([f"{pt.value:,.0f}", "infeasible", "—", "—", "—", "—"])
            details.append([textwrap.shorten((pt.explanation or {}).get("summary", ""), 150, placeholder=" …")])
            before = None
            continue
        t = pt.plan.totals
        rows.append([f"{pt.value:,.0f}", pt.plan.status, _money(t.cost), f"{t.users:,}", str(t.nodes),
                     _num(t.power_w / 1000)])
        what = " + ".join(f"{l.nodes} × {l.item}" for l in pt.plan.lines)
        details.append([what] if what != before else [])
        before = what
    out = wrap(title) if title else []
    out += narrow_table(headers, rows, details, right={0, 2, 3, 4, 5})
    served = "requests per hour the plan serves (a request-rate workload)" if _hourly(points) else \
        "users the plan serves"
    out += wrap("Under a point: what it buys (nodes × node type with its accelerators) where that changes from "
                f"the point above, or why no plan exists. Served: {served}; kW: maximum draw.")
    return "\n".join(out) + "\n"


def render_problem_list(problems: list[dict[str, str]], fmt: str) -> str:
    """The bundled problems (`problems.bundled_summaries`): JSON, or for the terminal each name with its
    description wrapped under it at 80 columns."""
    if fmt == "json":
        return json.dumps({"problems": problems}, indent=2, ensure_ascii=False) + "\n"
    out = []
    for p in problems:
        out.append(p["name"])
        out += wrap(p["description"], indent="    ", more="")
    out += [""] + wrap("Solve one with `hwplan solve NAME`; copy problems/NAME.yaml to change it.")
    return "\n".join(out) + "\n"
