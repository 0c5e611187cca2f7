"""mlops_kit.features: the feature dictionary, the transformation built from it, its version.

Frames are built by hand; nothing here needs the shipped data.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as skops_io
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from mlops_kit.domain import ID_COLUMN, LABEL_COLUMN, RAW_COLUMN_NAMES, RAW_COLUMNS, TIMESTAMP_COLUMN, raw_columns_of
from mlops_kit.features import (
    DICTIONARY_PATH,
    TRUSTED_TYPES,
    FeatureDictionary,
    FeatureDictionaryError,
    FieldSpec,
    build_encoder,
    build_feature_transformer,
    compute_features,
    feature_set_version,
    load_feature_dictionary,
    parse_feature_dictionary,
)

DICTIONARY = load_feature_dictionary()


def clean_orders(times: list[str] | None = None) -> pd.DataFrame:
    """Typed clean orders as module 1 returns them (index = source row)."""
    times = times or [
        "2025-03-03 10:59:00",
        "2025-03-04 11:00:00",
        "2025-03-08 13:00:00",
        "2025-03-09 20:59:59",
        "2025-03-10 21:00:00",
    ]
    count = len(times)
    return pd.DataFrame(
        {
            "order_id": [f"O{number:07d}" for number in range(count)],
            "created_at": pd.to_datetime(times).astype("datetime64[us]"),
            "city_zone": ["center", "north", "south", "east", "west"][:count],
            "distance_km": [1.5, 2.25, 3.0, 10.0, 0.3][:count],
            "prep_time_min": [10.0, 20.5, 30.0, 15.0, 5.0][:count],
            "weather": ["clear", "rain", "storm", "cloudy", "clear"][:count],
            "vehicle": ["bike", "car", "scooter", "bike", "car"][:count],
            "basket_size": pd.array([1, 2, 3, 4, 5][:count], dtype="Int64"),
            "is_late": pd.array([0, 1, 1, 0, 1][:count], dtype="Int64"),
        },
        index=pd.Index([10, 11, 13, 17, 20][:count], name="source_row"),
    )


def payload() -> dict[str, Any]:
    return copy.deepcopy(DICTIONARY.to_dict())


def write(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "feature_dictionary.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


# --- the shipped dictionary -------------------------------------------------------------------


def test_shipped_dictionary_loads_and_round_trips(tmp_path: Path) -> None:
    assert isinstance(DICTIONARY, FeatureDictionary)
    assert DICTIONARY.feature_names == [
        "distance_km",
        "prep_time_min",
        "basket_size",
        "hour",
        "weekday",
        "is_weekend",
        "is_rush_hour",
        "weather",
        "vehicle",
        "city_zone",
    ]
    saved = DICTIONARY.save(tmp_path / "copy.json")
    assert load_feature_dictionary(saved) == DICTIONARY
    assert json.loads(DICTIONARY_PATH.read_text()) == DICTIONARY.to_dict(), "the shipped file is in canonical form"


def test_raw_columns_are_the_dictionary_key_inputs_and_label() -> None:
    """The raw columns are derived from the dictionary: a new input there is a new raw column, typed by its dtype."""
    payload = copy.deepcopy(DICTIONARY.to_dict())
    payload["inputs"].append(
        {"name": "tip_eur", "dtype": "float", "description": "Tip.", "unit": "EUR", "min": 0, "max": 50}
    )
    parsed = parse_feature_dictionary(payload)
    columns = raw_columns_of(parsed.key, parsed.inputs, parsed.label)
    assert [c.name for c in columns] == [ID_COLUMN, *DICTIONARY.input_names, "tip_eur", LABEL_COLUMN]
    assert [c.kind for c in columns][:2] == ["id", "timestamp"] and columns[-1].kind == "label"
    tip = columns[-2]
    assert (tip.kind, tip.unit, tip.min_value, tip.max_value) == ("float", "EUR", 0, 50)
    assert RAW_COLUMNS == raw_columns_of(DICTIONARY.key, DICTIONARY.inputs, DICTIONARY.label)
    assert TIMESTAMP_COLUMN == DICTIONARY.timestamp.name
    text_input = FieldSpec("note", "str", "Free text.")
    with pytest.raises(ValueError, match="input 'note' has dtype 'str'"):
        raw_columns_of(parsed.key, (*parsed.inputs, text_input), parsed.label)


def _features_entry(index: int, **changes: Any) -> dict[str, Any]:
    data = payload()
    data["features"][index].update(changes)
    return data


def _without(index: int, field: str) -> dict[str, Any]:
    data = payload()
    del data["features"][index][field]
    return data


def _duplicate() -> dict[str, Any]:
    data = payload()
    data["features"].append(copy.deepcopy(data["features"][3]))
    return data


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON (line 1"),
        ("[1, 2]", "the top level must be a JSON object, got list"),
        ({"name": "x"}, "missing fields 'description', 'key'"),
        (_without(3, "dtype"), "features[3] ('hour'): missing field 'dtype'"),
        (
            _features_entry(3, dtype="flot"),
            "features[3] ('hour'): dtype: unknown dtype 'flot'; known: bool, category, float, int",
        ),
        (_features_entry(0, desciption="typo"), "features[0] ('distance_km'): unknown field 'desciption'"),
        (_features_entry(4, version=0), "features[4] ('weekday'): version must be a whole number of 1 or more"),
        (_features_entry(4, version=True), "version must be a whole number"),
        (_features_entry(4, description=""), "features[4] ('weekday'): description: must be a non-empty string"),
        (_features_entry(4, inputs=["created"]), "features[4] ('weekday'): input 'created' is not declared in inputs"),
        (_features_entry(4, inputs=["is_late"]), "reads the label 'is_late'"),
        (_features_entry(4, inputs=[]), "inputs must name at least one input column"),
        (_features_entry(4, name="Weekday"), "'Weekday' is not a valid name"),
        (
            _features_entry(0, compute="hour_of_day"),
            "has the name of the input 'distance_km' but is computed differently",
        ),
        (_features_entry(4, name="is_late"), "cannot be named like the key, label or prediction"),
        (_duplicate(), "features: duplicate name 'hour'"),
        ({**payload(), "features": []}, "the dictionary declares no feature"),
        ({**payload(), "features": {"hour": 1}}, "features: must be a JSON list, got dict"),
        ({**payload(), "inputs": payload()["inputs"][1:]}, "timestamp 'created_at' must also be listed in inputs"),
    ],
)
def test_corrupt_dictionary_is_named(tmp_path: Path, content: Any, message: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(FeatureDictionaryError) as error:
        load_feature_dictionary(path)
    assert message in str(error.value)
    assert str(path) in str(error.value), "the error names the file"


def test_missing_dictionary_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FeatureDictionaryError, match="feature dictionary file not found"):
        load_feature_dictionary(tmp_path / "nowhere.json")


def test_with_feature_checks_the_new_entry() -> None:
    entry = {
        "name": "is_bad_weather",
        "dtype": "bool",
        "description": "Rain or storm.",
        "version": 1,
        "inputs": ["weather"],
        "compute": "bad_weather",
    }
    extended = DICTIONARY.with_feature(entry)
    assert extended.feature_names == [*DICTIONARY.feature_names, "is_bad_weather"]
    assert DICTIONARY.feature_names[-1] == "city_zone", "the original is unchanged"
    with pytest.raises(FeatureDictionaryError, match="duplicate name 'hour'"):
        DICTIONARY.with_feature({**entry, "name": "hour"})
    with pytest.raises(FeatureDictionaryError, match="missing field 'inputs'"):
        DICTIONARY.with_feature({key: value for key, value in entry.items() if key != "inputs"})
    with pytest.raises(FeatureDictionaryError, match="must be a dict"):
        DICTIONARY.with_feature(None)  # type: ignore[arg-type]


# --- the transformation ------------------------------------------------------------------------


def test_transformer_names_match_the_dictionary_and_values_are_right() -> None:
    orders = clean_orders()
    transformer = build_feature_transformer(DICTIONARY)
    features = transformer.fit_transform(orders)
    assert list(transformer.get_feature_names_out()) == DICTIONARY.feature_names == list(features.columns)
    assert features.index.equals(orders.index)
    assert features["hour"].tolist() == [10, 11, 13, 20, 21]
    assert features["weekday"].tolist() == [0, 1, 5, 6, 0]
    assert features["is_weekend"].tolist() == [False, False, True, True, False]
    assert features["is_rush_hour"].tolist() == [False, True, False, True, False], "rush hours end exclusive"
    assert features["distance_km"].tolist() == orders["distance_km"].tolist()
    assert {name: str(dtype) for name, dtype in features.dtypes.items()} == {
        "distance_km": "float64",
        "prep_time_min": "float64",
        "basket_size": "int64",
        "hour": "int64",
        "weekday": "int64",
        "is_weekend": "bool",
        "is_rush_hour": "bool",
        "weather": "str",
        "vehicle": "str",
        "city_zone": "str",
    }


def test_transformer_accepts_rows_as_a_service_receives_them() -> None:
    """One row, created_at as ISO text, extra fields, any column order: same features."""
    orders = clean_orders()
    transformer = build_feature_transformer(DICTIONARY).fit(orders)
    request = orders.iloc[[3]].astype({"created_at": "str"})[list(reversed(RAW_COLUMN_NAMES))].assign(extra="x")
    expected = transformer.transform(orders.iloc[[3]])
    assert transformer.transform(request).equals(expected)


def test_transformer_errors_name_the_feature() -> None:
    orders = clean_orders()
    with pytest.raises(ValueError, match="weather"):
        build_feature_transformer(DICTIONARY).fit(orders.drop(columns="weather"))
    gaps = orders.copy()
    gaps.loc[11, "basket_size"] = pd.NA
    with pytest.raises(ValueError, match="feature 'basket_size' \\(int\\) has missing values at rows \\[11\\]"):
        build_feature_transformer(DICTIONARY).fit_transform(gaps)


def bad_weather(inputs: pd.DataFrame) -> pd.Series:
    return inputs["weather"].isin(["rain", "storm"])


def bad_weather_edited(inputs: pd.DataFrame) -> pd.Series:
    return inputs["weather"].isin(["storm"])


BAD_WEATHER = {
    "name": "is_bad_weather",
    "dtype": "bool",
    "description": "Rain or storm.",
    "version": 1,
    "inputs": ["weather"],
    "compute": "bad_weather",
}


def test_a_learner_computation_extends_the_features() -> None:
    extended = DICTIONARY.with_feature(BAD_WEATHER)
    features = compute_features(clean_orders(), extended, {"bad_weather": bad_weather})
    assert list(features.columns) == extended.feature_names
    assert features["is_bad_weather"].tolist() == [False, True, True, False, False]
    with pytest.raises(FeatureDictionaryError, match="'is_bad_weather': computation 'bad_weather' is not built in"):
        build_feature_transformer(extended)
    with pytest.raises(FeatureDictionaryError, match="must be a function"):
        build_feature_transformer(extended, {"bad_weather": "rain"})  # type: ignore[dict-item]


def test_feature_set_version_follows_dictionary_and_code() -> None:
    reference = feature_set_version(DICTIONARY)
    assert reference == feature_set_version(load_feature_dictionary()) and len(reference) == 16
    reworded = payload()
    reworded["features"][0]["description"] = "Distance, reworded."
    assert feature_set_version(parse_feature_dictionary(reworded)) != reference
    extended = DICTIONARY.with_feature(BAD_WEATHER)
    with_code = feature_set_version(extended, {"bad_weather": bad_weather})
    assert with_code != reference
    assert feature_set_version(extended, {"bad_weather": bad_weather_edited}) != with_code, (
        "the computation's code counts"
    )
    assert feature_set_version(DICTIONARY, {"unused": bad_weather}) == reference, "unused computations do not"


# --- encoder, model pipeline, safe persistence --------------------------------------------------


def model_pipeline() -> Pipeline:
    return Pipeline(
        [
            ("features", build_feature_transformer(DICTIONARY)),
            ("encode", build_encoder(DICTIONARY)),
            ("model", LogisticRegression(max_iter=200)),
        ]
    )


def test_model_pipeline_predicts_from_clean_rows_and_ignores_unknown_categories() -> None:
    orders = clean_orders()
    model = model_pipeline().fit(orders, orders["is_late"].astype(int))
    unseen = orders.iloc[[0]].assign(city_zone="harbor", vehicle="ebike")
    probability = model.predict_proba(unseen)
    assert probability.shape == (1, 2) and np.isclose(probability.sum(), 1.0)
    names = list(model.named_steps["encode"].get_feature_names_out())
    assert names[:5] == ["distance_km", "prep_time_min", "basket_size", "hour", "weekday"]
    assert "weather_rain" in names and "city_zone_center" in names


def test_fitted_model_loads_with_skops_when_trusting_only_trusted_types(tmp_path: Path) -> None:
    orders = clean_orders()
    model = model_pipeline().fit(orders, orders["is_late"].astype(int))
    path = tmp_path / "model.skops"
    skops_io.dump(model, path)
    assert set(skops_io.get_untrusted_types(file=path)) <= set(TRUSTED_TYPES)
    loaded = skops_io.load(path, trusted=TRUSTED_TYPES)
    assert np.array_equal(loaded.predict_proba(orders), model.predict_proba(orders))


def test_the_encoder_encodes_as_scikit_learns_column_transformer_would() -> None:
    """FeatureEncoder is scikit-learn's scaler, passthrough flags and one-hot encoder, without the DataFrame checks."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    features = build_feature_transformer(DICTIONARY).fit_transform(clean_orders())
    numeric, flags = DICTIONARY.names_of("float", "int"), DICTIONARY.names_of("bool")
    categorical = DICTIONARY.names_of("category")
    reference = ColumnTransformer(
        [
            ("scale", StandardScaler(), numeric),
            ("flags", "passthrough", flags),
            ("one_hot", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
        ],
        verbose_feature_names_out=False,
    ).fit(features)
    encoder = build_encoder(DICTIONARY).fit(features)
    unseen = features.iloc[[0, 1]].assign(weather="hail")  # a category neither saw: all zeros in both
    for rows in (features, features.iloc[[2]], unseen):
        assert np.allclose(encoder.transform(rows), reference.transform(rows).astype(float))
    assert list(encoder.get_feature_names_out()) == list(reference.get_feature_names_out())
    assert encoder.known_categories()["weather"] == sorted(features["weather"].unique())
    with pytest.raises(ValueError, match=r"lack the columns \['city_zone'\]"):
        encoder.transform(features.drop(columns="city_zone"))


def test_the_encoders_fast_paths_give_scikit_learns_numbers_exactly() -> None:
    """The scaling and one-hot encoding skip scikit-learn's input checks, not its arithmetic: equal to the bit."""
    from mlops_kit.features.transform import _one_hot, _scaled

    features = build_feature_transformer(DICTIONARY).fit_transform(clean_orders())
    encoder = build_encoder(DICTIONARY).fit(features)
    numeric = features[list(encoder.numeric)].to_numpy(dtype=float)
    categories = features[list(encoder.categorical)].to_numpy(dtype=object)
    odd = categories[:3].copy()
    odd[0, 0], odd[1, 1], odd[2, 2] = "aaa-before-all", "zzz-after-all", "hail"  # unknown: all zeros
    missing = categories[:2].copy()
    missing[0, 0] = np.nan  # does not compare with strings: left to scikit-learn
    for block in (numeric, numeric[[2]]):
        assert np.array_equal(_scaled(encoder.scaler_, block), encoder.scaler_.transform(block))
    for block in (categories, categories[[1]], odd, missing):
        assert np.array_equal(_one_hot(encoder.one_hot_, block), encoder.one_hot_.transform(block))
    assert not _one_hot(encoder.one_hot_, odd)[:, : len(encoder.one_hot_.categories_[0])][0].any()


def test_built_ins_on_their_column_give_what_the_same_computations_give_as_functions() -> None:
    """OrderFeatures hands a built-in its column (a time column parsed once); as functions, given the inputs'
    DataFrame as a learner's computation is, they give the same features, for typed and for text times."""
    from mlops_kit.features import COMPUTATIONS
    from mlops_kit.features.transform import OrderFeatures

    orders = clean_orders()
    built_in = build_feature_transformer(DICTIONARY)
    as_functions = OrderFeatures(
        tuple((name, COMPUTATIONS[compute], dtype, inputs) for name, compute, dtype, inputs in built_in.features)
    )
    for rows in (orders, orders.astype({TIMESTAMP_COLUMN: "str"}), orders.iloc[[3]]):
        assert built_in.fit(rows).transform(rows).equals(as_functions.fit(rows).transform(rows))
