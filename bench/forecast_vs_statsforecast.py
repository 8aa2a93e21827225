"""Compare the calendar forecast (staffing/forecast.py) with statsforecast's MSTL on the same held-back weeks.

statsforecast is not a dependency of the project (see docs/staffing.md for why); run this in its own venv:

    python3 -m venv /tmp/sf && /tmp/sf/bin/pip install statsforecast==2.1.1
    .venv/bin/callcenter staffing forecast --database sqlite:///q.db --from 2026-04-06 --save-history pooled.npy
    /tmp/sf/bin/python bench/forecast_vs_statsforecast.py pooled.npy --first 2026-01-05 --weeks 6

pooled.npy: days x 48 offered calls of the whole centre (what `staffing forecast` fits). Prints, per held-back
week, WAPE per interval, MAPE per interval (intervals with >= 5 calls), WAPE per day and MAPE per day, in %.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd  # type: ignore[import-untyped,unused-ignore]
from statsforecast import StatsForecast  # type: ignore[import-not-found,unused-ignore]
from statsforecast.models import MSTL, AutoETS  # type: ignore[import-not-found,unused-ignore]


def scores(pred: np.ndarray, actual: np.ndarray) -> tuple[float, float, float, float]:
    err = np.abs(pred - actual)
    big = actual >= 5
    dp, da = pred.sum(axis=1), actual.sum(axis=1)
    return (float(err.sum() / actual.sum()), float(np.mean(err[big] / actual[big])),
            float(np.abs(dp - da).sum() / da.sum()), float(np.mean(np.abs(dp - da) / da)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("history")
    ap.add_argument("--first", required=True, help="the first day of the history (local)")
    ap.add_argument("--weeks", type=int, default=6)
    args = ap.parse_args()
    actual = np.load(args.history)
    days = actual.shape[0]
    started = time.perf_counter()
    for w in range(args.weeks, 0, -1):
        cut = days - 7 * w
        y = actual[:cut].ravel()
        df = pd.DataFrame({"unique_id": "centre", "y": y,
                           "ds": pd.date_range(args.first, periods=y.size, freq="30min")})
        model = MSTL(season_length=[48, 336], trend_forecaster=AutoETS(model="ZZN"), alias="MSTL")
        fc = StatsForecast(models=[model], freq="30min", n_jobs=1).forecast(df=df, h=7 * 48)
        pred = np.maximum(fc["MSTL"].to_numpy().reshape(7, 48), 0.0)
        week = pd.Timestamp(args.first) + pd.Timedelta(days=cut)
        print(f"{week:%Y-%m-%d}  " + "  ".join(f"{v * 100:5.1f}" for v in scores(pred, actual[cut : cut + 7])))
    print(f"MSTL fits: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
