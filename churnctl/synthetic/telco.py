"""Telecom subscribers: the shape of the public Telco customer-churn file.

Columns: customerID, gender, SeniorCitizen (0/1), Partner, Dependents, tenure (months, 0–72),
PhoneService, MultipleLines, InternetService (DSL / Fiber optic / No), six add-on services
(Yes / No / No internet service), Contract, PaperlessBilling, PaymentMethod, MonthlyCharges,
TotalCharges (blank for new customers, tenure 0) and Churn (Yes/No): many Yes/No columns, a
U-shaped tenure (many new and many long-standing customers), contracts that lengthen with tenure,
monthly charges built from the services taken.

Churn mechanism (about 26 % churn): churn falls steeply over the first year and then slowly —
a logarithmic effect a straight line cannot follow — and is higher on month-to-month contracts,
fibre, electronic cheques, paperless billing and for seniors, lower with online security and tech
support::

    logit = -0.6 - 0.55·ln(1 + tenure) + 1.1·Month-to-month - 0.8·Two year + 0.75·Fiber optic
            - 0.6·No internet + 0.45·Electronic check + 0.3·PaperlessBilling + 0.3·SeniorCitizen
            - 0.45·OnlineSecurity - 0.4·TechSupport - 0.15·Dependents + 0.012·(MonthlyCharges - 65)

Concept drift blends in an alternative mechanism driven by mailed cheques, streaming and high
total charges: ``-2.2 + 1.2·Mailed check + 0.8·StreamingTV + 0.00025·TotalCharges``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnctl.synthetic.core import Categorical, Profile

ADD_ONS = {  # add-on service -> share of internet customers who take it
    "OnlineSecurity": 0.37,
    "OnlineBackup": 0.44,
    "DeviceProtection": 0.44,
    "TechSupport": 0.37,
    "StreamingTV": 0.49,
    "StreamingMovies": 0.50,
}
BASE_MIX = {
    "gender": {"Male": 0.505, "Female": 0.495},
    "Partner": {"No": 0.52, "Yes": 0.48},
    "InternetService": {"Fiber optic": 0.44, "DSL": 0.34, "No": 0.22},
    "PaperlessBilling": {"Yes": 0.59, "No": 0.41},
    "PaymentMethod": {
        "Electronic check": 0.34,
        "Mailed check": 0.23,
        "Bank transfer (automatic)": 0.22,
        "Credit card (automatic)": 0.21,
    },
}
CONTRACTS = np.array(["Month-to-month", "One year", "Two year"], dtype=object)


def _yes(flags: np.ndarray) -> np.ndarray:
    return np.where(flags, "Yes", "No").astype(object)


def draw(rows: int, rng: np.random.Generator, categorical: Categorical, id_start: int) -> pd.DataFrame:
    gender = categorical("gender")
    senior = (rng.random(rows) < 0.16).astype(int)
    partner = categorical("Partner")
    dependents = rng.random(rows) < np.where(partner == "Yes", 0.52, 0.10)
    tenure = np.round(72 * rng.beta(0.55, 0.6, rows)).astype(float)
    phone = rng.random(rows) < 0.90
    multiple = np.where(phone, _yes(rng.random(rows) < 0.47), "No phone service").astype(object)
    internet = categorical("InternetService")
    online = internet != "No"
    services = {
        name: np.where(online, _yes(rng.random(rows) < share), "No internet service").astype(object)
        for name, share in ADD_ONS.items()
    }
    # Longer customers hold longer contracts (multinomial logit on tenure).
    scores = np.stack([np.zeros(rows), -2.2 + 0.045 * tenure, -3.4 + 0.07 * tenure], axis=1)
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    contract = CONTRACTS[(rng.random(rows)[:, None] > np.cumsum(p, axis=1)).sum(axis=1).clip(0, 2)]
    n_add_ons = sum((v == "Yes").astype(int) for v in services.values())
    monthly = (
        20.0
        + 20.0 * phone
        + 5.0 * (multiple == "Yes")
        + np.select([internet == "DSL", internet == "Fiber optic"], [25.0, 50.0], 0.0)
        + 5.0 * n_add_ons
        + rng.normal(0, 2.0, rows)
    )
    frame = pd.DataFrame(
        {
            "customerID": [f"{i:04d}-C{(i * 7919) % 100_000:05d}" for i in id_start + rng.permutation(rows)],
            "gender": gender,
            "SeniorCitizen": senior,
            "Partner": partner,
            "Dependents": _yes(dependents),
            "tenure": tenure,
            "PhoneService": _yes(phone),
            "MultipleLines": multiple,
            "InternetService": internet,
            **services,
            "Contract": contract,
            "PaperlessBilling": categorical("PaperlessBilling"),
            "PaymentMethod": categorical("PaymentMethod"),
            "MonthlyCharges": np.round(np.clip(monthly, 18.25, 118.75), 2),
        }
    )
    return frame


def derive(frame: pd.DataFrame, rng: np.random.Generator) -> None:
    """TotalCharges follows tenure and MonthlyCharges (also after either is shifted); blank at tenure 0."""
    frame["tenure"] = frame["tenure"].clip(lower=0)
    tenure = frame["tenure"].to_numpy(float)
    total = frame["MonthlyCharges"].to_numpy(float) * tenure * rng.normal(1.0, 0.04, len(frame))
    frame["TotalCharges"] = np.where(tenure > 0, np.round(total, 2), np.nan)


def churn_logit(frame: pd.DataFrame, concept: float = 0.0) -> np.ndarray:
    def has(column: str, value: str = "Yes") -> np.ndarray:
        return (frame[column] == value).to_numpy(float)

    tenure = frame["tenure"].to_numpy(float).clip(0, None)
    base = (
        -0.6
        - 0.55 * np.log1p(tenure)
        + 1.1 * has("Contract", "Month-to-month")
        - 0.8 * has("Contract", "Two year")
        + 0.75 * has("InternetService", "Fiber optic")
        - 0.6 * has("InternetService", "No")
        + 0.45 * has("PaymentMethod", "Electronic check")
        + 0.3 * has("PaperlessBilling")
        + 0.3 * frame["SeniorCitizen"].to_numpy(float)
        - 0.45 * has("OnlineSecurity")
        - 0.4 * has("TechSupport")
        - 0.15 * has("Dependents")
        + 0.012 * (frame["MonthlyCharges"].to_numpy(float) - 65)
    )
    if concept == 0.0:
        return base
    alternative = (
        -2.2
        + 1.2 * has("PaymentMethod", "Mailed check")
        + 0.8 * has("StreamingTV")
        + 0.00025 * np.nan_to_num(frame["TotalCharges"].to_numpy(float))
    )
    return (1.0 - concept) * base + concept * alternative


PROFILE = Profile(
    name="telco",
    summary="telecom subscribers (the shape of the public Telco churn file; many Yes/No columns, target Churn Yes/No)",
    target="Churn",
    labels=("No", "Yes"),
    numeric=("tenure", "MonthlyCharges"),
    integer=("tenure",),
    mixes=BASE_MIX,
    features=(
        "gender",
        "SeniorCitizen",
        "Partner",
        "Dependents",
        "tenure",
        "PhoneService",
        "MultipleLines",
        "InternetService",
        *ADD_ONS,
        "Contract",
        "PaperlessBilling",
        "PaymentMethod",
        "MonthlyCharges",
        "TotalCharges",
    ),
    open_categories=("InternetService", "PaymentMethod", "Contract"),
    draw=draw,
    logit=churn_logit,
    derive=derive,
)
