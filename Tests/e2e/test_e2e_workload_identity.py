"""MicrosoftApiModule end to end with workload identity federation: the process reads a service-account token from
AZURE_FEDERATED_TOKEN_FILE (minted by the emulator's OIDC issuer "aks", as a Kubernetes cluster would project it)
and trades it for an access token of the app whose federated credential trusts it."""
from __future__ import annotations

import json

import jwt
import pytest
from auth_e2e import FIXTURE, WHOAMI, age_cached_tokens, whoami

from microsoft_emulator.testing import SECRET_APP_ID, WORKLOAD_SUBJECT, federated_token

pytestmark = pytest.mark.e2e

FLOW = 'workload-identity'


def mint(run, **options) -> str:
    return federated_token(run.server.url, verify=str(run.server.ca_path), **options)


def project(run, token_file, token: str) -> None:
    """Put ``token`` where the process looks for it, as the kubelet does when it rotates the projected token."""
    token_file.write_text(token + '\n', encoding='utf-8')
    run.options.env['AZURE_FEDERATED_TOKEN_FILE'] = str(token_file)




def jti(token: str) -> str:
    return jwt.decode(token, options={'verify_signature': False})['jti']


def test_workload_identity_cold_warm_and_rotated_token(local_run, tmp_path):
    """Given a projected service-account token, When whoami runs cold, warm, and after the token file was rotated and
    the cached access token is near expiry, Then it costs one token request (the federated assertion), none, and one
    made with the new file content — the API always sees the app."""
    run = local_run(FIXTURE)
    token_file = tmp_path / 'azure-identity-token'
    first = mint(run)
    project(run, token_file, first)
    instance = run.instance(FLOW)

    assert whoami(run.run(instance, WHOAMI))['client_id'] == SECRET_APP_ID
    [request] = run.token_requests()
    assert request['host'] == 'login' and request['status'] == 200 and request['grant_type'] == 'client_credentials'
    assert request['assertion_kind'] == 'federated' and request['assertion_subject'] == WORKLOAD_SUBJECT
    assert request['assertion_jti'] == jti(first)

    run.clear_requests()
    assert whoami(run.run(instance, WHOAMI))['client_id'] == SECRET_APP_ID
    assert run.token_requests() == []

    second = mint(run)
    project(run, token_file, second)
    age_cached_tokens(run, instance, seconds_left=120)
    run.clear_requests()
    assert whoami(run.run(instance, WHOAMI))['client_id'] == SECRET_APP_ID
    [request] = run.token_requests()
    assert request['status'] == 200 and request['assertion_jti'] == jti(second) != jti(first)


def test_expired_projected_token_then_rotation_recovers(local_run, tmp_path):
    """Given a token file whose token has expired (the kubelet stopped rotating it), When whoami runs, Then it fails
    with AADSTS700024; once the file holds a fresh token the next run succeeds without any reset."""
    run = local_run(FIXTURE)
    token_file = tmp_path / 'azure-identity-token'
    project(run, token_file, mint(run, lifetime=3600, issued_seconds_ago=7200))
    instance = run.instance(FLOW)

    result = run.run(instance, WHOAMI)
    assert result.crash is None
    [error] = result.errors
    assert 'AADSTS700024' in error and 'Traceback' not in error

    project(run, token_file, mint(run))
    assert whoami(run.run(instance, WHOAMI))['client_id'] == SECRET_APP_ID


def test_token_for_the_wrong_subject_is_a_clear_error(local_run, tmp_path):
    """Given a token for a service account the app's federated credential does not name, When whoami runs, Then the
    war room gets one clear error entry naming AADSTS700213 and the subject — no traceback, no token in the output."""
    run = local_run(FIXTURE)
    token = mint(run, subject='system:serviceaccount:xsoar:intruder')
    project(run, tmp_path / 'azure-identity-token', token)
    result = run.run(run.instance(FLOW), WHOAMI)
    assert result.crash is None
    [error] = result.errors
    assert 'AADSTS700213' in error and 'system:serviceaccount:xsoar:intruder' in error
    assert 'Traceback' not in error
    assert token not in json.dumps(result.to_json() | {'logs': result.logs, 'stderr': result.stderr}, default=str)
