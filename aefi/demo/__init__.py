"""The demo county, in three parts:

- ``county``: the frame — townships with a site each, green-channel hospitals, vaccine
  products and lots, persons and dose records over the last days, the demo users;
- ``history``: what 90 days of work in that county leave behind, done through the services
  with the clock set back (reports at the expected rates, case files in every status, a
  group AEFI, referrals, a signal and the halt it led to and its lift, daily reports);
- ``live``: what a demo server does on every start — vaccinees on every site's
  observation board (doses of the last 30 minutes), a few reactions noted.

``build`` alone is the frame (the tests' small demo county); ``build_living`` is what
``aefi demo`` and ``make run`` build."""

from aefi.demo.county import (
    DEMO_PASSWORDS,
    HOSPITALS,
    TOWNSHIPS,
    VACCINES,
    DemoCounty,
    _demo_name,
    _id_number,
    build,
    credentials,
    is_loaded,
)
from aefi.demo.history import History, build_history, build_living
from aefi.demo.live import configure, start

__all__ = [
    "DEMO_PASSWORDS",
    "HOSPITALS",
    "TOWNSHIPS",
    "VACCINES",
    "DemoCounty",
    "History",
    "_demo_name",
    "_id_number",
    "build",
    "build_history",
    "build_living",
    "configure",
    "credentials",
    "is_loaded",
    "start",
]
