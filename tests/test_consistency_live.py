"""Module 6 against real services: a skewed and a fixed uvicorn service on loopback (one pair for the file).

The skewed service plants a time-zone skew of the hour; the consistency check must name ``hour``
with a mismatch on every order and nothing else, and pass everything on the fixed service,
schema and environment read from the live service. The feature endpoint stays off by default.
"""

from __future__ import annotations

import pandas as pd
import pytest
import serving_support
from serving_support import MODEL

from mlops_kit.consistency import (
    compare_services,
    compare_sides,
    consistency_report,
    environment_check,
    parity_checks,
    schema_check,
)
from mlops_kit.consistency.reference import start_services
from mlops_kit.deploy import load_deploy_spec
from mlops_kit.features import load_feature_dictionary
from mlops_kit.registry import load_model
from mlops_kit.serving import ServiceConfig
from mlops_kit.serving.app import create_app
from mlops_kit.serving.skew import SkewSpec

registry = serving_support.registry
tracking = serving_support.tracking
OFFSET_H = 3


@pytest.fixture(scope="module")
def services(registry):
    skew = SkewSpec(feature="hour", bug="timezone", offset_hours=OFFSET_H)
    started = start_services(registry.uri, MODEL, registry.champion, skew)
    yield started
    for service in started.values():
        service.stop()
    assert not any(service.running() for service in started.values())


@pytest.fixture(scope="module")
def model(registry, tracking):
    return load_model(tracking, MODEL, version=registry.champion)


@pytest.fixture(scope="module")
def sides(services, model, registry):
    """Both services asked at once, the offline side computed once (as the notebook does)."""
    urls = {label: service.url for label, service in services.items()}
    return compare_services(model, urls, registry.orders, load_feature_dictionary())


def run(label, services, sides, registry, tracking):
    dictionary, service = load_feature_dictionary(), services[label]
    sides = sides[label]
    return consistency_report(
        "test",
        parity_checks(sides, dictionary, 0.5),
        [
            schema_check(tracking, MODEL, registry.champion, service.url, dictionary),
            environment_check(tracking, MODEL, registry.champion, service.url, sides),
        ],
    )


def test_the_skewed_service_is_caught_on_the_hour_only(services, sides, registry, tracking) -> None:
    report = run("skewed", services, sides, registry, tracking)
    parity = report.check("feature_parity")
    assert parity.details["failing"] == ["hour"]
    assert parity.details["features"]["hour"]["mismatch"] == len(registry.orders)
    example = parity.details["features"]["hour"]["examples"][0]
    assert (example["training"] + OFFSET_H) % 24 == example["serving"]
    assert "hour" in parity.message
    assert not report.check("prediction_parity").passed  # the model saw other hours
    assert report.check("schema_parity").passed and report.check("environment_parity").passed


def test_the_fixed_service_passes_every_check(services, sides, registry, tracking) -> None:
    report = run("fixed", services, sides, registry, tracking)
    assert report.passed, report.summary()
    predictions = report.check("prediction_parity").details
    assert predictions["rows"] == len(registry.orders) and predictions["flipped"] == 0
    sources = report.check("schema_parity").details["sources"]
    assert [name for name, _ in sources["openapi"]] == load_feature_dictionary().input_names


def test_duplicate_orders_sent_to_the_service_are_an_error(services, model, registry) -> None:
    from mlops_kit.consistency import ParityError

    twice = pd.concat([registry.orders.head(3), registry.orders.head(1)])
    sides = compare_sides(model, services["fixed"].url, twice, load_feature_dictionary())
    with pytest.raises(ParityError, match="duplicate order_id"):
        parity_checks(sides, load_feature_dictionary(), 0.5)


def test_both_services_asked_at_once_share_one_offline_side(sides, registry) -> None:
    assert sides["skewed"].training is sides["fixed"].training
    assert sides["skewed"].rows == sides["fixed"].rows == len(registry.orders)
    assert len(sides["fixed"].serving.features) == len(registry.orders)


def test_the_feature_endpoint_is_off_by_default(registry, model) -> None:
    from mlops_kit.serving.model import load_served_model

    config = ServiceConfig(tracking_uri=registry.uri, model_name=MODEL, version=registry.champion)
    assert config.debug_features is False and config.skew is None
    assert load_deploy_spec({"model_name": MODEL, "version": registry.champion}).debug_features is False
    paths = {route.path for route in create_app(config, load_served_model(config)).routes}
    assert "/predict" in paths and "/features" not in paths
