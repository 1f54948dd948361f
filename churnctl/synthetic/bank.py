"""Bank customers: the columns and marginals of the public bank-churn data set.

Columns: CustomerId, CreditScore, Geography, Gender, Age, Tenure, Balance, NumOfProducts,
HasCrCard, IsActiveMember, EstimatedSalary, Exited (0/1). France/Germany/Spain 50/25/25 %, 45 %
women, a right-skewed age around 39, credit scores around 650, about a third zero balances (none
in Germany), mostly one or two products, uniform salaries.

Churn mechanism (``Exited`` ~ Bernoulli(sigmoid(logit))), chosen to reproduce the real data's
patterns — about 20 % churn, higher for Germany, women, customers aged 45–65 and inactive
members, very high for 3–4 products and low for 2 products::

    logit = -1.35 + 0.85·Germany + 0.45·Female + 0.15·(Age-40) - 0.011·max(Age-50, 0)²
            - 1.0·IsActiveMember + {1: 0, 2: -1.55, 3: 2.4, 4: 5.0}[NumOfProducts]
            + 0.35·(Balance > 0) - 0.0012·(CreditScore - 650)

Concept drift (``concept`` = c in [0, 1]) blends this with an alternative mechanism in which
churn is driven by short tenure, high salary, Spain and — reversed — active membership::

    logit_alt = -2.75 + 1.1·Spain - 0.3·(Tenure-5) + 1.2·(EstimatedSalary > 150000)
                + 0.9·IsActiveMember + 0.02·(Age-40)
    logit_c = (1 - c)·logit + c·logit_alt
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnctl.synthetic.core import Categorical, Profile

NUMERIC = ("CreditScore", "Age", "Tenure", "Balance", "EstimatedSalary")
BASE_MIX = {
    "Geography": {"France": 0.50, "Germany": 0.25, "Spain": 0.25},
    "Gender": {"Male": 0.545, "Female": 0.455},
    "HasCrCard": {"1": 0.706, "0": 0.294},
    "IsActiveMember": {"1": 0.515, "0": 0.485},
}
FEATURES = (
    "CreditScore",
    "Geography",
    "Gender",
    "Age",
    "Tenure",
    "Balance",
    "NumOfProducts",
    "HasCrCard",
    "IsActiveMember",
    "EstimatedSalary",
)
PRODUCT_EFFECT = np.array([0.0, 0.0, -1.55, 2.4, 5.0])  # indexed by NumOfProducts


def churn_logit(frame: pd.DataFrame, concept: float = 0.0) -> np.ndarray:
    """The documented churn mechanism on a frame with the simulated columns."""
    age = frame["Age"].to_numpy(float)
    active = frame["IsActiveMember"].to_numpy(float)
    base = (
        -1.35
        + 0.85 * (frame["Geography"] == "Germany").to_numpy()
        + 0.45 * (frame["Gender"] == "Female").to_numpy()
        + 0.15 * (age - 40)
        - 0.011 * np.maximum(age - 50, 0) ** 2
        - 1.0 * active
        + PRODUCT_EFFECT[frame["NumOfProducts"].to_numpy(int)]
        + 0.35 * (frame["Balance"].to_numpy(float) > 0)
        - 0.0012 * (frame["CreditScore"].to_numpy(float) - 650)
    )
    if concept == 0.0:
        return base
    alternative = (
        -2.75
        + 1.1 * (frame["Geography"] == "Spain").to_numpy()
        - 0.3 * (frame["Tenure"].to_numpy(float) - 5)
        + 1.2 * (frame["EstimatedSalary"].to_numpy(float) > 150_000)
        + 0.9 * active
        + 0.02 * (age - 40)
    )
    return (1.0 - concept) * base + concept * alternative


def draw(rows: int, rng: np.random.Generator, categorical: Categorical, id_start: int) -> pd.DataFrame:
    geography = categorical("Geography")
    gender = categorical("Gender")
    age = np.clip(np.round(18 + rng.gamma(4.2, 5.0, rows)), 18, 92)
    credit = np.clip(np.round(rng.normal(650, 96, rows)), 350, 850)
    tenure_p = np.r_[0.041, np.full(9, 0.91 / 9), 0.049]
    tenure = rng.choice(11, size=rows, p=tenure_p / tenure_p.sum()).astype(float)
    zero_balance = rng.random(rows) < np.where(geography == "Germany", 0.0, 0.48)
    balance = np.where(zero_balance, 0.0, np.round(np.clip(rng.normal(119_800, 30_000, rows), 3_000, 251_000), 2))
    products_p = np.where(zero_balance[:, None], [[0.30, 0.67, 0.025, 0.005]], [[0.62, 0.34, 0.03, 0.01]])
    products = 1 + (rng.random(rows)[:, None] > np.cumsum(products_p, axis=1)).sum(axis=1)
    return pd.DataFrame(
        {
            "CustomerId": id_start + rng.permutation(rows),
            "CreditScore": credit,
            "Geography": geography,
            "Gender": gender,
            "Age": age,
            "Tenure": tenure,
            "Balance": balance,
            "NumOfProducts": np.minimum(products, 4),
            "HasCrCard": categorical("HasCrCard").astype(int),
            "IsActiveMember": categorical("IsActiveMember").astype(int),
            "EstimatedSalary": np.round(rng.uniform(11.58, 199_992.48, rows), 2),
        }
    )


PROFILE = Profile(
    name="bank",
    summary="bank customers (the columns of the public bank-churn data; target Exited 0/1)",
    target="Exited",
    labels=(0, 1),
    numeric=NUMERIC,
    integer=("CreditScore", "Age", "Tenure"),
    mixes=BASE_MIX,
    features=FEATURES,
    open_categories=("Geography", "Gender"),
    draw=draw,
    logit=churn_logit,
)
