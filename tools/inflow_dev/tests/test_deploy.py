"""The deploy path, shown without an AWS account:
- scripts/deploy.sh (make deploy) with DRY_RUN=1 prints `sam deploy --guided` only when there is no
  saved configuration, and a non-interactive `sam deploy` from samconfig.toml or STACK / PROFILE /
  REGION / PARAMS otherwise; every printed `sam deploy` parses with SAM CLI's own command
  definition (a misspelt or removed option fails here);
- guided deploys ask no per-function authorization question (SAM CLI's own check, run on
  template.yaml), and the template's HttpApi still has no authorizer (SAM's own translation);
- the ApiUrl output carries the stage, and agrees with the hosted accept page's URL;
- scripts/tools.sh (which every make target runs first) refuses a system other than Linux
  plainly (docs/local-stack.md, "Supported platform").
Runs with .venv-sam's python (SAM CLI and its translator are installed there).

    .venv-sam/bin/python tools/inflow_dev/tests/test_deploy.py        (make test runs it)
"""
import copy
import json
import os
import shlex
import subprocess
import tempfile
import unittest
from pathlib import Path


from inflow_dev import ROOT as REPO, template

os.environ["SAM_CLI_TELEMETRY"] = "0"
SAVED = """version = 0.1
[default.global.parameters]
stack_name = "inflow"
[default.deploy.parameters]
capabilities = "CAPABILITY_IAM"
resolve_s3 = true
confirm_changeset = true
region = "eu-west-1"
parameter_overrides = "SenderEmail=\\"noreply@example.com\\""
"""


TMP = tempfile.TemporaryDirectory()
# SAM checks that a named profile exists; this one stands for an SSO profile.
(Path(TMP.name) / "aws-config").write_text("[profile ops-sso]\nregion = us-west-2\n")
os.environ["AWS_CONFIG_FILE"] = str(Path(TMP.name) / "aws-config")


def dry_run(samconfig_text=None, **env):
    """scripts/deploy.sh under DRY_RUN=1: the commands it would run (each as an argv list), and
    the config file it was given."""
    config = Path(TMP.name) / "samconfig.toml"
    config.unlink(missing_ok=True)
    if samconfig_text is not None:
        config.write_text(samconfig_text)
    full = {k: v for k, v in os.environ.items()
            if k not in ("STACK", "PROFILE", "REGION", "PARAMS", "GUIDED", "CONFIRM", "NO_EXECUTE", "CONFIG_ENV")}
    full.update(env, DRY_RUN="1", SAMCONFIG=str(config))
    out = subprocess.run([str(REPO / "scripts" / "deploy.sh")], env=full, capture_output=True,
                         text=True, check=True).stdout
    commands = [shlex.split(line) for line in out.splitlines() if line and not line.startswith("#")]
    return commands, str(config)


def sam_deploy(commands):
    deploys = [c for c in commands if c[:2] == ["sam", "deploy"]]
    assert len(deploys) == 1, commands
    return deploys[0][2:]


def parse_with_sam(args, config_path, config_text):
    """The options as SAM CLI's `sam deploy` parses them (reading the config file they name)."""
    from samcli.commands.deploy.command import cli
    Path(config_path).write_text(config_text)
    ctx = cli.make_context("deploy", list(args))
    # SAM keeps the region and profile on its context object, not with the other options.
    return {**ctx.params, "region": ctx.obj.region, "profile": ctx.obj.profile}


class DeployDryRun(unittest.TestCase):
    def test_no_saved_configuration_is_guided(self):
        for text in (None, (REPO / "samconfig.toml").read_text()):
            commands, config = dry_run(text)
            self.assertEqual(commands[:2], [["scripts/tools.sh", "deploy"], ["scripts/sam-build.sh"]])
            args = sam_deploy(commands)
            self.assertIn("--guided", args)
            self.assertNotIn("--no-confirm-changeset", args)
            params = parse_with_sam(args, config, text or "version = 0.1\n")
            self.assertTrue(params["guided"])

    def test_a_saved_configuration_asks_nothing(self):
        commands, config = dry_run(SAVED)
        args = sam_deploy(commands)
        self.assertNotIn("--guided", args)
        params = parse_with_sam(args, config, SAVED)
        self.assertFalse(params["guided"])
        self.assertFalse(params["confirm_changeset"], "the saved confirm_changeset=true is overridden")
        self.assertFalse(params["fail_on_empty_changeset"], "a deploy with no change succeeds")
        self.assertEqual(params["stack_name"], "inflow")
        self.assertEqual(params["region"], "eu-west-1")
        self.assertEqual(params["parameter_overrides"], {"SenderEmail": "noreply@example.com"})

    def test_make_variables_override_the_saved_configuration(self):
        commands, config = dry_run(SAVED, STACK="inflow-prod", PROFILE="ops-sso", REGION="us-west-2",
                                   NO_EXECUTE="1")
        params = parse_with_sam(sam_deploy(commands), config, SAVED)
        self.assertEqual((params["stack_name"], params["profile"], params["region"]),
                         ("inflow-prod", "ops-sso", "us-west-2"))
        self.assertTrue(params["no_execute_changeset"])

    def test_params_make_a_first_deploy_non_interactive(self):
        commands, config = dry_run(None, STACK="ci", REGION="eu-central-1",
                                   PARAMS="SenderEmail=noreply@example.com StageName=prod")
        args = sam_deploy(commands)
        self.assertNotIn("--guided", args)
        params = parse_with_sam(args, config, "version = 0.1\n")
        self.assertEqual(params["parameter_overrides"],
                         {"SenderEmail": "noreply@example.com", "StageName": "prod"})

    def test_guided_and_confirm_on_request(self):
        commands, config = dry_run(SAVED, GUIDED="1")
        self.assertIn("--guided", sam_deploy(commands))
        commands, config = dry_run(SAVED, CONFIRM="1")
        self.assertTrue(parse_with_sam(sam_deploy(commands), config, SAVED)["confirm_changeset"])

    def test_dry_run_runs_nothing(self):
        # No build happened and no AWS call: a dry run with no credentials and no sam on PATH works.
        with tempfile.TemporaryDirectory() as tmp:
            env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "DRY_RUN": "1"}
            out = subprocess.run([str(REPO / "scripts" / "deploy.sh")], env=env, capture_output=True,
                                 text=True, check=True).stdout
        self.assertIn("sam deploy", out)


AUTH = "      Auth:\n        EnableIamAuthorizer: false\n"


def load_template(text=None):
    return template.load(text=text)


class GuidedQuestions(unittest.TestCase):
    def unauthorized(self, text):
        """The functions `sam deploy --guided` would ask about (SAM CLI's own check)."""
        from samcli.commands.deploy.auth_utils import auth_per_resource
        from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
        path = Path(TMP.name) / "template.yaml"
        path.write_text(text)
        stacks, _ = SamLocalStackProvider.get_stacks(
            str(path), parameter_overrides={"SenderEmail": "noreply@example.com"})
        return [name for name, ok in auth_per_resource(stacks) if not ok]

    def test_no_per_function_authorization_question(self):
        text = (REPO / "template.yaml").read_text()
        self.assertEqual(self.unauthorized(text), [])
        # Without the HttpApi's Auth, every HTTP function would be asked about.
        self.assertIn(AUTH, text)
        self.assertGreater(len(self.unauthorized(text.replace(AUTH, ""))), 20)

    def test_the_api_still_has_no_authorizer(self):
        from samtranslator.translator.transform import transform

        class NoPolicies:
            def load(self):
                return {}

        def translated(template):
            template = copy.deepcopy(template)
            template["Globals"]["Function"]["CodeUri"] = "s3://bucket/code.zip"
            for resource in template["Resources"].values():
                resource.get("Properties", {}).pop("CodeUri", None)
            os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
            return transform(template, {"SenderEmail": "noreply@example.com"}, NoPolicies())["Resources"]

        with_auth = translated(load_template())
        self.assertFalse([k for k, v in with_auth.items() if v["Type"] == "AWS::ApiGatewayV2::Authorizer"])
        body = with_auth["HttpApi"]["Properties"]["Body"]
        routes = [op for path in body["paths"].values() for op in path.values() if isinstance(op, dict)]
        self.assertGreater(len(routes), 20)
        self.assertFalse([op for op in routes if op.get("security")], "a route got an authorizer")
        without = load_template((REPO / "template.yaml").read_text().replace(AUTH, ""))
        plain = translated(without)["HttpApi"]["Properties"]["Body"]
        self.assertEqual(body["paths"], plain["paths"])


def resolve(value, params, names):
    """A tiny evaluator for the intrinsics an output uses: Ref, Fn::Sub, Fn::If, Fn::Equals."""
    if isinstance(value, str):
        return value
    (fn, arg), = value.items()
    if fn == "Ref":
        return params.get(arg, names.get(arg, arg))
    if fn == "Fn::Sub":
        out = arg
        for key, val in {**names, **params}.items():
            if isinstance(val, str):
                out = out.replace("${%s}" % key, val)
        assert "${" not in out, out
        return out
    if fn == "Fn::If":
        condition, yes, no = arg
        return resolve(yes if names["conditions"][condition] else no, params, names)
    raise AssertionError(f"unexpected intrinsic {fn}")


class Outputs(unittest.TestCase):
    def urls(self, stage):
        template = load_template()
        params = {"StageName": stage}
        equals = template["Conditions"]["IsDefaultStage"]["Fn::Equals"]
        names = {"HttpApi": "abc123", "AWS::Region": "eu-west-1", "AWS::URLSuffix": "amazonaws.com",
                 "conditions": {"IsDefaultStage": resolve(equals[0], params, {}) == equals[1],
                                "HasAcceptUrlTemplate": False}}
        api_url = resolve(template["Outputs"]["ApiUrl"]["Value"], params, names)
        accept = [f["Properties"]["Environment"]["Variables"]["ACCEPT_URL_TEMPLATE"]
                  for f in template["Resources"].values()
                  if "ACCEPT_URL_TEMPLATE" in json.dumps(f.get("Properties", {}).get("Environment", {}))]
        return api_url, [resolve(a, params, names) for a in accept]

    def test_api_url_has_the_stage(self):
        self.assertEqual(self.urls("$default")[0], "https://abc123.execute-api.eu-west-1.amazonaws.com/")
        self.assertEqual(self.urls("prod")[0], "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/")

    def test_the_accept_page_is_under_the_api_url(self):
        for stage in ("$default", "prod"):
            api_url, accepts = self.urls(stage)
            self.assertTrue(accepts)
            for accept in accepts:
                self.assertEqual(accept, api_url + "accept?secret={secret}")

    def test_every_name_inflowctl_reads_is_an_output(self):
        # inflowctl --stack (inflowctl/src/settings.rs FROM_OUTPUTS) reads these.
        source = (REPO / "inflowctl" / "src" / "settings.rs").read_text()
        block = source.split("pub const FROM_OUTPUTS", 1)[1].split("];", 1)[0]
        wanted = [line.split('"')[-2] for line in block.splitlines() if line.strip().startswith("(")]
        self.assertGreaterEqual(len(wanted), 7)
        missing = [o for o in wanted if o not in load_template()["Outputs"]]
        self.assertEqual(missing, [])


class SupportedPlatform(unittest.TestCase):
    def run_tools(self, system):
        """scripts/tools.sh with `uname` answering `system` (a stand-in first on PATH)."""
        with tempfile.TemporaryDirectory() as tmp:
            fake = Path(tmp) / "uname"
            fake.write_text(f"#!/bin/sh\necho {system}\n")
            fake.chmod(0o755)
            env = {**os.environ, "PATH": f"{tmp}:{os.environ['PATH']}"}
            return subprocess.run([str(REPO / "scripts" / "tools.sh")], env=env, capture_output=True,
                                  text=True, timeout=600)

    def test_macos_is_refused_plainly(self):
        out = self.run_tools("Darwin")
        self.assertEqual(out.returncode, 1)
        self.assertIn("Linux with bash 4 or newer is required (this is Darwin", out.stderr)

    def test_linux_passes_the_check(self):
        out = self.run_tools("Linux")
        self.assertEqual(out.returncode, 0, out.stderr)


class ToolsByNeed(unittest.TestCase):
    """scripts/tools.sh installs what a target needs: `make dev` needs neither root nor Chromium,
    and `make test` without Chromium skips the browser test, except in CI. Run with Chromium
    hidden from PATH and `id -u` answering 1000 (stand-ins, as above)."""

    def run_tools(self, need, ci=None):
        with tempfile.TemporaryDirectory() as tmp:
            bin_dir = Path(tmp)
            for d in os.environ["PATH"].split(os.pathsep):
                if not os.path.isdir(d):
                    continue
                for entry in os.listdir(d):
                    link = bin_dir / entry
                    if entry.startswith(("chromium", "chromedriver")) or link.exists() or link.is_symlink():
                        continue
                    link.symlink_to(Path(d) / entry)
            (bin_dir / "id").unlink(missing_ok=True)
            (bin_dir / "id").write_text('#!/bin/sh\n[ "$1" = -u ] && echo 1000 || echo "uid=1000(dev)"\n')
            (bin_dir / "id").chmod(0o755)
            env = {k: v for k, v in os.environ.items() if k != "CI"}
            env["PATH"] = str(bin_dir)
            if ci:
                env["CI"] = ci
            return subprocess.run([str(REPO / "scripts" / "tools.sh"), need], env=env, capture_output=True,
                                  text=True, timeout=600)

    def test_dev_needs_neither_root_nor_chromium(self):
        out = self.run_tools("dev")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertNotIn("chromium", out.stderr)

    def test_test_without_chromium_skips_the_browser_test_locally(self):
        out = self.run_tools("test")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("make test will skip the browser test", out.stderr)

    def test_ci_never_skips_it(self):
        out = self.run_tools("test", ci="true")
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn("CI needs chromium and chromedriver", out.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
