"""template.yaml, read once for every Python part of the local platform: the only Python reader of
it (the Rust tests read it themselves). What it gives:

- `load(path)`: the document, with CloudFormation's short tags as their long forms
  (`!Ref X` is {"Ref": "X"}, `!If [...]` is {"Fn::If": [...]}, `!GetAtt a.b` is {"Fn::GetAtt": "a.b"});
- `load_template(path)`: what the local stack serves: the functions by binary name (Timeout,
  MemorySize, the environment settings a deploy without overrides knows), the HTTP routes,
  the HttpApi's CORS settings and its throttles;
- `parameter_defaults`, `parameter_value`: the parameters at their defaults (what a deploy
  without overrides gets);
- `queue_settings`, `stream_settings`, `schedules`: the functions' event sources (SQS, the table's
  DynamoDB stream, Schedule), for inflow_dev.sources;
- `function_facts`: per binary its memory, architecture, schedules and queues, for the cost model.
"""

import json
from pathlib import Path

import yaml

from inflow_dev import ROOT

PATH = ROOT / "template.yaml"


class TemplateLoader(yaml.SafeLoader):
    pass


def _intrinsic(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


# CloudFormation short forms: `!Ref X` is {"Ref": "X"}, `!If [...]` is {"Fn::If": [...]}, ...
TemplateLoader.add_multi_constructor("!", _intrinsic)


class Route:
    def __init__(self, method, path, function):
        self.method = method.upper()
        self.path = path
        self.function = function
        self.segments = path.strip("/").split("/") if path.strip("/") else []

    @property
    def key(self):
        return f"{self.method} {self.path}"

    def match(self, segments):
        """The raw (still percent-encoded) path parameters, with the match's specificity, or None."""
        params, rank = {}, []
        for i, pattern in enumerate(self.segments):
            if pattern.startswith("{") and pattern.endswith("+}"):
                rest = segments[i:]
                if not rest or rest == [""]:
                    return None
                params[pattern[1:-2]] = "/".join(rest)
                rank.append(0)
                return params, rank
            if i >= len(segments):
                return None
            if pattern.startswith("{") and pattern.endswith("}"):
                if segments[i] == "":
                    return None
                params[pattern[1:-1]] = segments[i]
                rank.append(1)
            elif pattern == segments[i]:
                rank.append(2)
            else:
                return None
        if len(segments) != len(self.segments):
            return None
        return params, rank


class FunctionSpec:
    def __init__(self, name, logical_id, timeout, memory, environment=None):
        self.name = name
        self.logical_id = logical_id
        self.timeout = timeout
        self.memory = memory
        # The template's environment variables that are settings, not resources: literals and
        # parameters (their defaults). The local stack's own environment wins over them.
        self.environment = environment or {}


class Template:
    """What the local stack takes from template.yaml: the functions by binary name, the HTTP
    routes, the HttpApi's CORS settings (or None) and its throttles."""

    def __init__(self, functions, routes, cors, throttles):
        self.functions = functions
        self.routes = routes
        self.cors = cors
        self.throttles = throttles


def load_template(path=None):
    template = load(path)
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    parameters = template.get("Parameters") or {}
    functions, routes = {}, []
    cors = None
    throttles = ThrottleSettings(None, {})
    for logical_id, resource in (template.get("Resources") or {}).items():
        kind = resource.get("Type")
        props = resource.get("Properties") or {}
        if kind == "AWS::Serverless::HttpApi":
            cors = cors_settings(props.get("CorsConfiguration"))
            throttles = throttle_settings(props, parameters)
        if kind != "AWS::Serverless::Function":
            continue
        name = binary_of(logical_id, resource)
        timeout = props.get("Timeout", globals_.get("Timeout", 3))
        memory = props.get("MemorySize", globals_.get("MemorySize", 128))
        variables = {**((globals_.get("Environment") or {}).get("Variables") or {}),
                     **((props.get("Environment") or {}).get("Variables") or {})}
        functions[name] = FunctionSpec(
            name, logical_id, float(timeout) if isinstance(timeout, (int, float)) else 3.0,
            int(memory) if isinstance(memory, int) else 128,
            settings_of(variables, parameters),
        )
        for event in (props.get("Events") or {}).values():
            if event.get("Type") == "HttpApi":
                p = event.get("Properties") or {}
                routes.append(Route(p.get("Method", "ANY"), p.get("Path", "/"), name))
    return Template(functions, routes, cors, throttles)


def settings_of(variables, parameters):
    """The environment variables whose value a deploy without overrides knows without creating
    anything: a literal, or a parameter's default (a resource's name or URL is the local
    stack's own, from its environment)."""
    settings = {}
    for name, value in variables.items():
        if isinstance(value, dict) and "Ref" in value:
            parameter = parameters.get(value["Ref"])
            if parameter is None or "Default" not in parameter:
                continue
            value = parameter["Default"]
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            settings[name] = str(value)
    return settings


def parameter_value(value, parameters):
    """A number written directly or as `!Ref` to a parameter (its default: what a deploy without
    overrides gets)."""
    if isinstance(value, dict) and "Ref" in value:
        value = (parameters.get(value["Ref"]) or {}).get("Default")
    return float(value) if isinstance(value, (int, float, str)) and str(value).strip() else None


class ThrottleSettings:
    """The HttpApi's throttles as the template states them: the stage's DefaultRouteSettings
    (rate, burst) or None, and per route key its RouteSettings (rate, burst). The gateway's
    Throttles applies them."""

    def __init__(self, default, routes):
        self.default = default
        self.routes = routes


def throttle_settings(props, parameters):
    """The HttpApi's DefaultRouteSettings and RouteSettings as (rate, burst) pairs."""
    def pair(settings):
        settings = settings or {}
        rate = parameter_value(settings.get("ThrottlingRateLimit"), parameters)
        burst = parameter_value(settings.get("ThrottlingBurstLimit"), parameters)
        return (rate, burst) if rate is not None and burst is not None else None

    per_route = {key: pair(s) for key, s in (props.get("RouteSettings") or {}).items()}
    return ThrottleSettings(pair(props.get("DefaultRouteSettings")),
                     {k: v for k, v in per_route.items() if v is not None})



def cors_settings(config):
    """The HttpApi's CorsConfiguration: True, a mapping, or `!If [cond, mapping, AWS::NoValue]`
    (the origins are the deployment's; locally they are --cors-origins)."""
    if config is None or config is False:
        return None
    if config is True:
        return {"AllowOrigins": ["*"]}
    if isinstance(config, dict) and "Fn::If" in config:
        branches = [b for b in config["Fn::If"][1:] if isinstance(b, dict) and "Ref" not in b]
        return branches[0] if branches else None
    return config if isinstance(config, dict) else None



def load(path=None, text=None):
    """The template as a document (`text` if given, else the file at `path`, else template.yaml)."""
    if text is None:
        text = Path(path or PATH).read_text()
    return yaml.load(text, Loader=TemplateLoader)


def parameter_defaults(doc):
    """Every parameter's default (None where it has none)."""
    return {k: (v or {}).get("Default") for k, v in (doc.get("Parameters") or {}).items()}


def binary_of(logical_id, resource):
    """A function's binary: its Metadata.BuildProperties.Binary, else its logical id."""
    return ((resource.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary", logical_id)


def functions_of(doc):
    """(binary, logical id, resource) of every AWS::Serverless::Function."""
    return [(binary_of(logical_id, resource), logical_id, resource)
            for logical_id, resource in (doc.get("Resources") or {}).items()
            if (resource or {}).get("Type") == "AWS::Serverless::Function"]


# ---------------------------------------------------------------------------------------------
# Event sources (Lambda's, which inflow_dev.sources plays locally)

BATCH_SIZE = 10  # Lambda's default BatchSize for SQS, where the template states none


def _events(doc, function, kind):
    for binary, _, resource in functions_of(doc):
        if binary == function:
            for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
                if event.get("Type") == kind:
                    yield event.get("Properties") or {}


def queue_settings(function, doc=None):
    """The function's SQS event: (batch size, MaximumConcurrency), parameters at their defaults;
    Lambda's own defaults where the template says nothing; (BATCH_SIZE, 1) without an SQS event."""
    doc = doc if doc is not None else load()
    parameters = doc.get("Parameters") or {}

    def value(v, default):
        if isinstance(v, dict) and "Ref" in v:
            v = parameters[v["Ref"]].get("Default")
        return int(v) if v is not None else default

    for props in _events(doc, function, "SQS"):
        scaling = props.get("ScalingConfig") or {}
        return value(props.get("BatchSize"), 10), value(scaling.get("MaximumConcurrency"), 1000)
    return BATCH_SIZE, 1


def stream_settings(function, doc=None):
    """The function's DynamoDB stream event: batch size, retries, filters (parsed patterns)."""
    doc = doc if doc is not None else load()
    parameters = doc.get("Parameters") or {}
    props = next(_events(doc, function, "DynamoDB"))

    def value(name):
        v = props[name]
        if isinstance(v, dict) and "Ref" in v:
            v = parameters[v["Ref"]]["Default"]
        return int(v)

    filters = [json.loads(f["Pattern"]) for f in props["FilterCriteria"]["Filters"]]
    return value("BatchSize"), value("MaximumRetryAttempts"), filters


# ---------------------------------------------------------------------------------------------
# Facts for the cost model


def function_facts(doc):
    """Per binary: memory (MB), architecture, Schedule expressions, SQS sources; and the count of
    each resource type (the stack's resources that cost when idle)."""
    glob = (doc.get("Globals") or {}).get("Function") or {}
    default_memory = int(glob.get("MemorySize", 128))
    default_arch = (glob.get("Architectures") or ["x86_64"])[0]
    functions, resources = {}, {}
    for name, res in (doc.get("Resources") or {}).items():
        kind = res.get("Type", "")
        resources[kind] = resources.get(kind, 0) + 1
        if kind != "AWS::Serverless::Function":
            continue
        props = res.get("Properties") or {}
        memory = props.get("MemorySize", default_memory)
        functions[binary_of(name, res)] = {
            "memory": int(memory) if isinstance(memory, (int, str)) and str(memory).isdigit() else default_memory,
            "arch": (props.get("Architectures") or [default_arch])[0],
            "schedules": [e["Properties"].get("Schedule") for e in (props.get("Events") or {}).values()
                          if e.get("Type") == "Schedule"],
            "sqs_sources": sum(1 for e in (props.get("Events") or {}).values() if e.get("Type") == "SQS"),
        }
    return functions, resources
