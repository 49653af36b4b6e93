"""What 90 days of work leave in the demo county, done through the services as the people
who do it, with the clock (``aefi.clock``) set to each moment in turn, oldest first:

- report cards at the expected rates of DOMAIN.md (China's NIP 2021–22: 32.52 per 100,000
  doses for all AEFI, 11.86 for COVID-19 vaccines) against the doses each vaccine was given,
  filed by the site's physician: triage, clusters, referrals and signal scans run for real;
- the story of a lot: two anaphylaxis after one influenza lot at 城关镇 on one morning — a
  group AEFI, a signal, a halt recommendation that holds the lot, the bureau's halt, the
  investigation, and the lift two weeks later (no doses of that lot while it was stopped);
- referrals that end in each way (discharged, declined and sent on, cancelled on site,
  still admitted, one on its way to the hospital now);
- case files worked by the county CDC, from not started to closed, older ones further on;
- the sites' daily reports of the past days, most on time, some late, a few missing.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from aefi import audit, clock
from aefi.auth.models import Role, User
from aefi.auth.permissions import Actor
from aefi.auth.users import service as auth_users
from aefi.errors import DomainError
from aefi.intake.filing import service as intake_filing
from aefi.intake.models import Report
from aefi.intake.schemas import ReportIn, SeriousIn
from aefi.investigation import sections
from aefi.investigation.cases import service as case_files
from aefi.investigation.causality import ChinaClassification
from aefi.investigation.form import service as case_form
from aefi.investigation.models import CaseFile
from aefi.investigation.panel import service as panel
from aefi.investigation.schemas import ClassifyIn, CloseIn
from aefi.observation import service as observation
from aefi.observation.actions import service as observation_actions
from aefi.observation.models import ObservationEntry
from aefi.referral.models import Referral
from aefi.referral.schemas import AdmitIn, OutcomeIn
from aefi.referral.states import Result
from aefi.referral.steps import service as referral_steps
from aefi.registry import lot_states
from aefi.registry.doses import service as registry_doses
from aefi.registry.models import Dose, Lot, LotStatus, Site, Vaccine
from aefi.registry.schemas import DoseCreate, PersonIn
from aefi.reporting.daily import service as daily
from aefi.settings import get_settings
from aefi.signals.halts import service as halts
from aefi.signals.models import Signal, SignalLevel, SignalStatus
from aefi.signals.review import service as signal_review
from aefi.triage.models import ClusterMember

# Reports per 100,000 doses (DOMAIN.md, "Expected rates shipped as defaults").
RATE_ALL_PER_100K = 32.52  # China NIP 2021–22, all AEFI
RATE_COVID_PER_100K = 11.86  # COVID-19 vaccines in China, Dec 2020–Apr 2021
# What the common reports are (common reactions 31.07 of 32.52; allergic rash 0.96).
COMMON_MIX: tuple[tuple[str, float], ...] = (
    ("fever", 0.55),
    ("local", 0.33),
    ("rash", 0.04),
    ("crying", 0.04),
    ("gi", 0.04),
)

# The lot of the story (the first lot of this vaccine) and its days, counted back from now.
STORY_VACCINE = "FLU"
STORY_DAY = 40  # the morning of the two anaphylaxis
LIFT_DAY = 26  # the halt is lifted
DAILY_DAYS = 30  # the daily reports of this many past days
# Signals in these groups are not dismissed as common reactions.
SERIOUS_GROUPS = ("anaphylaxis", "seizure", "hhe", "angioedema")


def quiet_window(now: datetime) -> tuple[str, datetime, datetime]:
    """The story lot's vaccine and the time it was stopped: the frame gives it no doses
    then (a held or halted lot refuses doses)."""
    start = _local(now, STORY_DAY, 9, 0)
    return STORY_VACCINE, start, _local(now, LIFT_DAY, 12, 0)


def _local(now: datetime, days_ago: int, hour: int, minute: int = 0) -> datetime:
    """``hour:minute`` local time, ``days_ago`` local days before ``now``."""
    day = clock.to_local(now).date() - timedelta(days=days_ago)
    return clock.local_start_of(day).replace(hour=hour, minute=minute).astimezone(now.tzinfo)


@dataclass
class History:
    reports: int = 0
    cases: int = 0
    referrals: int = 0
    daily_reports: int = 0
    halts: int = 0
    skipped: list[str] = field(default_factory=list)  # steps the services refused, and why


class _Timeline:
    """Steps at their moments, run oldest first with the clock set to each; a step may
    schedule later ones."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._heap: list[tuple[datetime, int, Callable[[], None], str]] = []
        self._seq = itertools.count()

    def at(self, when: datetime, step: Callable[[], None], what: str = "") -> None:
        if when < self.now:  # what would lie in the future has not happened yet
            heapq.heappush(self._heap, (when, next(self._seq), step, what))

    def run(self, session: Session, history: History) -> None:
        while self._heap:
            when, _n, step, what = heapq.heappop(self._heap)
            clock.freeze(when)
            try:
                step()
            except DomainError as exc:
                session.rollback()
                history.skipped.append(f"{what or step.__name__}: {exc}")


def build_living(
    session: Session,
    *,
    doses: int = 200_000,
    days: int = 90,
    seed: int = 20261125,
    min_reports: int = 0,
    daily_days: int = DAILY_DAYS,
):
    """The frame (``county.build``) and its history: what ``aefi demo`` and ``make run``
    build. ``min_reports``: at least this many background reports (a small county's rates
    give almost none); ``daily_days``: the past days with daily reports."""
    from aefi.demo import county, live
    from aefi.settings import get_settings

    live.configure(get_settings())
    now = clock.now()
    built = county.build(session, doses=doses, days=days, seed=seed, quiet=quiet_window(now))
    history = build_history(
        session, built, seed=seed, min_reports=min_reports, daily_days=daily_days
    )
    return built, history


def build_history(
    session: Session,
    built,
    *,
    seed: int = 20261125,
    min_reports: int = 0,
    daily_days: int = DAILY_DAYS,
) -> History:
    """The county's last 90 days, through the services (see the module's docstring)."""
    was_frozen = clock._frozen
    now = clock.now()
    rng = random.Random(seed + 1)
    history = History()
    # The history is 90 days played in a few minutes: what workers do seconds after each
    # filing (scans, case files, notices) must happen at that moment of the story, so the
    # deferred jobs run right after each commit while it is built.
    settings = get_settings()
    was_eager, settings.jobs_eager = settings.jobs_eager, True
    try:
        story = _Story(session, built, now, rng, history)
        story.users()
        line = story.line
        story.background_reports(line, min_reports)
        story.lot_story(line)
        story.referral_stories(line)
        story.daily_reports(line, daily_days)
        line.run(session, history)
    finally:
        settings.jobs_eager = was_eager
        if was_frozen is None:
            clock.unfreeze()
        else:
            clock.freeze(was_frozen)
    audit.record(
        session,
        Actor.system(built.county_id, reason="demo county"),
        "demo_built",
        "region",
        built.county_id,
        county_id=built.county_id,
        summary=f"demo history: {history.reports} reports, {history.cases} case files",
    )
    session.commit()
    return history


# --- the people --------------------------------------------------------------------------

# The physicians of the sites without a demo login of their own (sites 3–12).
SITE_PHYSICIAN_PASSWORD = "demo-physician-{n}"


def site_physician(n: int) -> str:
    return f"physician{n:02d}"


class _Story:
    def __init__(self, session: Session, built, now: datetime, rng: random.Random, history):
        self.s = session
        self.built = built
        self.now = now
        self.rng = rng
        self.h = history
        self.county_id = built.county_id
        self.sites = [session.get(Site, i) for i in built.site_ids]
        self.vaccines = {v.code: v for v in session.exec(select(Vaccine))}
        self.people = itertools.count(1)
        self.worked: set[int] = set()
        self.swept: set[tuple[int, object]] = set()
        self.line = _Timeline(now)

    def users(self) -> None:
        """A physician for every site (the demo logins cover the first two), and a desk at
        the hospital the first two have none for."""
        system = Actor.system(self.county_id, reason="demo county")
        have = {u.site_id for u in self.s.exec(select(User).where(User.role == Role.reporter))}
        for n, site in enumerate(self.sites, start=1):
            if site.id in have:
                continue
            auth_users.create_user(
                self.s,
                system,
                username=site_physician(n),
                password=SITE_PHYSICIAN_PASSWORD.format(n=n),
                role=Role.reporter,
                county_id=self.county_id,
                full_name=f"{site.name.removesuffix('卫生院预防接种门诊')}留观医师",
                site_id=site.id,
                email=f"{site_physician(n)}@demo.invalid",
            )

    def actor(self, username: str) -> Actor:
        return Actor.of(self.s.exec(select(User).where(User.username == username)).one())

    def physician(self, site: Site) -> Actor:
        user = self.s.exec(
            select(User)
            .where(User.role == Role.reporter, User.site_id == site.id)
            .order_by(User.id)
        ).first()
        return Actor.of(user)

    def hospital_desk(self, hospital_id: int) -> Actor | None:
        user = self.s.exec(
            select(User)
            .where(User.role == Role.hospital, User.hospital_id == hospital_id)
            .order_by(User.id)
        ).first()
        return Actor.of(user) if user else None

    # --- report cards ---------------------------------------------------------------------

    def file(self, dose: Dose, **card) -> Report | None:
        site = self.s.get(Site, dose.site_id)
        actor = self.physician(site)
        card.setdefault("reporter_name", actor.name)
        card.setdefault("reporter_phone", site.phone)
        card.setdefault("reporter_unit", site.name)
        card.setdefault("confirm_new_event", True)
        card.setdefault("confirm_late_onset", True)
        try:
            report = intake_filing.file_report(self.s, actor, ReportIn(dose_ids=[dose.id], **card))
        except DomainError as exc:
            self.s.rollback()
            self.h.skipped.append(f"report on dose {dose.id}: {exc}")
            return None
        self.h.reports += 1
        self._follow(report)
        self.end_of_session(site, clock.now())
        return report

    def end_of_session(self, site: Site, at: datetime) -> None:
        """At 17:30 that day the site's physician releases whoever is still on the board
        (a vaccinee with a report by a decision, unless the referral closes the row)."""
        day = clock.to_local(at).date()
        if (site.id, day) in self.swept:
            return
        self.swept.add((site.id, day))
        back = (clock.to_local(self.now).date() - day).days
        self.line.at(_local(self.now, back, 17, 30), _bind(self._sweep, site), "end of session")

    def _sweep(self, site: Site) -> None:
        physician = self.physician(site)
        observation_actions.release_ready(self.s, physician, site.id)
        still = self.s.exec(
            observation.open_entries_of([site.id]).where(
                col(ObservationEntry.due_at) <= clock.now()
            )
        ).all()
        for entry in still:
            try:
                observation_actions.close_by_decision(
                    self.s, physician, entry.id, "留观期间症状已缓解，监护人知情后离开"
                )
            except DomainError:  # referred: the referral closes the row
                self.s.rollback()

    def _follow(self, report: Report) -> None:
        """Each case file triage opened (the report's, a group case) is worked from now on."""
        for case in self.s.exec(
            select(CaseFile).where(
                CaseFile.county_id == self.county_id, col(CaseFile.id).not_in(self.worked or [0])
            )
        ):
            self.worked.add(case.id)
            self.h.cases += 1
            self._work_case(self.line, case.id, clock.now())

    def background_reports(self, line: _Timeline, min_reports: int) -> None:
        """Reports at the expected rate per vaccine, on doses drawn at random (not today's:
        today belongs to the live board)."""
        today_start = clock.local_start_of(clock.to_local(self.now).date())
        counts = dict(
            self.s.exec(
                select(Vaccine.code, func.count(Dose.id))
                .join(Lot, Lot.vaccine_id == Vaccine.id)
                .join(Dose, Dose.lot_id == Lot.id)
                .where(col(Dose.administered_at) < today_start)
                .group_by(Vaccine.code)
            ).all()
        )
        total = sum(counts.values()) or 1
        plan: list[str] = []
        for code, n in counts.items():
            rate = RATE_COVID_PER_100K if code == "COV" else RATE_ALL_PER_100K
            plan += [code] * _poisson(self.rng, n * rate / 100_000)
        while len(plan) < min_reports:
            plan.append(
                self.rng.choices(list(counts), weights=[c / total for c in counts.values()])[0]
            )
        for code in plan:
            dose = self._random_dose(code, before=today_start)
            if dose is None:
                continue
            kind = _pick(self.rng, COMMON_MIX)
            card, after = _common_card(self.rng, kind, code)
            onset = dose.administered_at + after
            reported = onset + timedelta(hours=self.rng.uniform(1, 20))
            if self.rng.random() < 0.08:  # a few filed after the 48 h deadline
                reported += timedelta(hours=self.rng.uniform(40, 70))
            line.at(
                reported,
                _bind(
                    self.file,
                    dose,
                    onset_at=onset,
                    discovered_at=onset + timedelta(minutes=30),
                    **card,
                ),
                f"report {kind}",
            )
            # The county CDC looks at what the scans raised the next working day.
            line.at(
                reported + timedelta(hours=self.rng.uniform(16, 40)), self.review_signals, "review"
            )

    def review_signals(self) -> None:
        """Signals raised by common reactions are looked at and dismissed (the bureau ends a
        provisional hold of the lot); the story's (a designated condition) are the bureau's
        halt decision to settle. A recent one is still new."""
        story_lot = self.story_lot()
        bureau = self.actor("bureau")
        pending = self.s.exec(
            select(Signal).where(
                Signal.status == SignalStatus.new,
                col(Signal.first_detected_at) < clock.now() - timedelta(hours=12),
            )
        ).all()
        story_from = _local(self.now, STORY_DAY, 0, 0)
        story_to = story_from + timedelta(days=2)
        for sig in pending:
            if sig.scope == "lot" and sig.target_id == story_lot.id:
                continue
            if story_from <= _aware(sig.first_detected_at) <= story_to:
                continue  # the story's: settled by the halt decision
            lot = self.s.get(Lot, sig.target_id) if sig.scope == "lot" else None
            release = (
                lot is not None
                and sig.level == SignalLevel.halt_recommended
                and not lot_states.is_usable(lot)
                and lot.status == LotStatus.held
            )
            note = (
                "单例，经核实与批次无关，已在留观区处置缓解，继续监测"
                if sig.event_group in SERIOUS_GROUPS
                else "经核实均为一般反应（发热、局部红肿），该批次其他单位无类似报告，排除批次问题"
            )
            signal_review.set_signal_status(
                self.s, bureau, sig.id, SignalStatus.dismissed.value, note, release_hold=release
            )

    def _random_dose(self, code: str, *, before: datetime) -> Dose | None:
        vaccine = self.vaccines.get(code)
        if vaccine is None:
            return None
        ids = self.s.exec(
            select(Dose.id)
            .join(Lot, Lot.id == Dose.lot_id)
            .where(Lot.vaccine_id == vaccine.id, col(Dose.administered_at) < before)
        ).all()
        return self.s.get(Dose, self.rng.choice(ids)) if ids else None

    # --- doses the story needs, recorded as the immunization information system does -------

    def give(self, site: Site, lot: Lot, at: datetime, *, age_years: int = 3) -> Dose:
        """A dose recorded through the registry at ``at`` (the clock is there)."""
        n = next(self.people)
        birth = (at - timedelta(days=int(age_years * 365.25) + n)).date()
        from aefi.demo.county import GIVEN, SURNAMES, _id_number

        name = self.rng.choice(SURNAMES) + self.rng.choice(GIVEN) + self.rng.choice(GIVEN)
        return registry_doses.record_dose(
            self.s,
            self.actor("iis"),
            DoseCreate(
                person=PersonIn(
                    name=name,
                    id_number=_id_number(birth, 900 + n % 100),
                    sex=self.rng.choice(("male", "female")),
                    birth_date=birth,
                    guardian_name=(self.rng.choice(SURNAMES) + self.rng.choice(GIVEN))
                    if age_years < 18
                    else "",
                    phone=f"139{self.rng.randint(10000000, 99999999)}",
                ),
                lot_number=lot.lot_number,
                site_code=site.code,
                dose_number=1,
                administered_at=at,
                route="im",
                body_site="左上臂三角肌",
                vaccinator="陈护士",
            ),
        )

    def story_lot(self) -> Lot:
        v = self.vaccines[STORY_VACCINE]
        return self.s.exec(select(Lot).where(Lot.vaccine_id == v.id).order_by(Lot.id)).first()

    # --- the lot: group AEFI, signal, hold, halt, lift -------------------------------------

    def lot_story(self, line: _Timeline) -> None:
        site = self.sites[0]
        lot = self.story_lot()
        t0 = _local(self.now, STORY_DAY, 9, 10)
        reports: list[Report] = []

        def vaccinate_and_react(k: int) -> None:
            at = clock.now()
            dose = self.give(site, lot, at, age_years=4 + k)
            clock.freeze(at + timedelta(minutes=24))
            report = self.file(
                dose,
                onset_at=at + timedelta(minutes=12 + 3 * k),
                discovered_at=at + timedelta(minutes=13 + 3 * k),
                symptoms=["ANAPH", "URTIC", "BRONCHO"] if k == 0 else ["ANAPH", "HYPOTEN", "ANGIO"],
                serious=SeriousIn(life_threatening=True),
                description=(
                    "接种后约十余分钟出现全身荨麻疹、喘鸣，呼吸急促"
                    if k == 0
                    else "接种后面色苍白、口唇肿胀，血压下降至 70/40 mmHg"
                ),
                treatment="留观区立即肌注肾上腺素 0.15 mg，吸氧，建立静脉通道",
                needs_hospital_care=True,
                outcome="recovering",
                diagnosis="严重过敏反应",
            )
            if report is not None:
                reports.append(report)
                self._referral_path(line, report, "discharged")

        line.at(t0, lambda: vaccinate_and_react(0), "anaphylaxis 1")
        line.at(t0 + timedelta(minutes=35), lambda: vaccinate_and_react(1), "anaphylaxis 2")

        def halt() -> None:
            signals = self.s.exec(
                select(Signal.id).where(Signal.scope == "lot", Signal.target_id == lot.id)
            ).all()
            clusters = sorted(
                set(
                    self.s.exec(
                        select(ClusterMember.cluster_id).where(
                            col(ClusterMember.report_id).in_([r.id for r in reports])
                        )
                    )
                )
            )
            self.h.halts += 1
            decision = halts.issue_halt(
                self.s,
                self.actor("bureau"),
                scope="lot",
                target=lot.lot_number,
                reason=(
                    f"{site.name}同日上午接种该批次后发生两例严重过敏反应（群体性AEFI），"
                    "信号监测提示异常；暂停使用，封存库存，待调查及批次检验结果。"
                ),
                signal_ids=list(signals),
                cluster_ids=clusters,
                report_ids=[r.id for r in reports],
                confirmed=True,
            )
            # The product and the site stay in use: the decision stops the lot only.
            for sig in self.s.exec(
                select(Signal).where(
                    Signal.status == SignalStatus.new, col(Signal.scope).in_(("vaccine", "site"))
                )
            ).all():
                signal_review.set_signal_status(
                    self.s,
                    self.actor("bureau"),
                    sig.id,
                    SignalStatus.dismissed.value,
                    f"两例均为同一批次，已按批次叫停（{decision.number}），"
                    "不叫停整个疫苗品种或接种单位",
                )
            line.at(_local(self.now, LIFT_DAY, 10, 30), _bind(lift, decision.id), "lift")

        def lift(halt_id: int) -> None:
            halts.lift_halt(
                self.s,
                self.actor("bureau"),
                halt_id,
                "省药品检验所检验该批次质量合格；专家组诊断两例为异常反应（个体过敏体质），"
                "与批次质量无关。解除叫停，恢复使用，继续加强留观。",
                confirmed=True,
            )

        line.at(t0 + timedelta(hours=27), halt, "halt")

    # --- referrals that end each way ---------------------------------------------------------

    def _referral_path(
        self, line: _Timeline, report: Report, ending: str, then: str = "admitted"
    ) -> None:
        """The hospital's steps on the report's referral: ``discharged``, ``admitted``
        (still in the ward), ``declined`` (then the next hospital goes on to ``then``),
        ``cancelled`` (recovered on site), ``on_the_way`` (acknowledged, not yet arrived)."""
        ref = self.s.exec(
            select(Referral).where(Referral.report_id == report.id).order_by(Referral.id)
        ).first()
        if ref is None:
            return
        self.h.referrals += 1
        t = clock.now()
        rid = ref.id
        physician = self.physician(self.s.get(Site, report.site_id))

        def desk(referral_id: int) -> Actor:
            return self.hospital_desk(self.s.get(Referral, referral_id).hospital_id)

        def step(fn, *args, **kw):
            def run() -> None:
                referral_id = args[0]
                actor = desk(referral_id)
                if actor is not None:
                    fn(self.s, actor, *args, **kw)

            return run

        if ending == "cancelled":
            line.at(
                t + timedelta(minutes=6),
                lambda: referral_steps.cancel(
                    self.s, physician, rid, reason="症状在留观区经处理后缓解，监护人要求在家观察"
                ),
                "cancel",
            )
            return
        if ending == "declined":
            line.at(
                t + timedelta(minutes=4),
                step(referral_steps.decline, rid, "儿科重症床位已满，请转县中医院"),
                "decline",
            )

            def next_leg() -> None:
                leg = self.s.exec(
                    select(Referral)
                    .where(Referral.report_id == report.id, Referral.id != rid)
                    .order_by(col(Referral.id).desc())
                ).first()
                if leg is not None:
                    self._hospital_steps(line, leg.id, clock.now(), then)

            line.at(t + timedelta(minutes=5), next_leg, "next leg")
            return
        self._hospital_steps(line, rid, t, ending)

    def _hospital_steps(self, line: _Timeline, rid: int, t: datetime, ending: str) -> None:
        def actor() -> Actor | None:
            return self.hospital_desk(self.s.get(Referral, rid).hospital_id)

        def do(fn, *args):
            def run() -> None:
                a = actor()
                if a is not None:
                    fn(self.s, a, rid, *args)

            return run

        line.at(t + timedelta(minutes=3), do(referral_steps.acknowledge), "acknowledge")
        if ending == "on_the_way":
            return
        line.at(t + timedelta(minutes=28), do(referral_steps.record_arrival), "arrival")
        line.at(t + timedelta(minutes=45), do(referral_steps.admit, AdmitIn(ward="儿科")), "admit")
        if ending == "admitted":
            return
        line.at(
            t + timedelta(hours=self.rng.uniform(30, 60)),
            do(
                referral_steps.record_outcome,
                OutcomeIn(
                    result=Result.discharged,
                    diagnosis="疑似预防接种异常反应，经治疗好转",
                    patient_outcome="recovered",
                ),
            ),
            "discharge",
        )

    def referral_stories(self, line: _Timeline) -> None:
        chengguan, donghu = self.sites[0], self.sites[1]

        def seizure() -> None:  # MMR febrile seizure on day 8 after the dose
            at = clock.now()
            dose = self.give(chengguan, self._lot_of("MMR"), at - timedelta(days=8), age_years=1)
            report = self.file(
                dose,
                onset_at=at - timedelta(minutes=40),
                discovered_at=at - timedelta(minutes=30),
                symptoms=["FEBSEIZ", "FEVHI"],
                max_temperature_c=39.4,
                description="接种麻腮风疫苗后第8天高热，抽搐约2分钟，家长送回接种门诊",
                needs_hospital_care=True,
                treatment="物理降温，侧卧位，保持气道通畅",
                outcome="recovering",
            )
            if report is not None:
                self._referral_path(line, report, "discharged")

        def hhe() -> None:  # DTaP HHE at the second site: declined, sent on, in the ward
            at = clock.now()
            dose = self.give(donghu, self._lot_of("DTAP"), at - timedelta(hours=3), age_years=0)
            report = self.file(
                dose,
                onset_at=at - timedelta(hours=2, minutes=30),
                discovered_at=at - timedelta(hours=2, minutes=20),
                symptoms=["HHE"],
                description="接种后约半小时患儿面色苍白、肌张力低下、反应差，持续约十分钟",
                needs_hospital_care=True,
                outcome="recovering",
            )
            if report is not None:
                self._referral_path(line, report, "declined", then="admitted")

        def urticaria_cancelled() -> None:
            at = clock.now()
            dose = self.give(donghu, self._lot_of("HEPB"), at - timedelta(minutes=25), age_years=0)
            report = self.file(
                dose,
                onset_at=at - timedelta(minutes=12),
                discovered_at=at - timedelta(minutes=10),
                symptoms=["URTIC", "ANGIO"],
                description="接种后面部及躯干荨麻疹，眼睑轻度肿胀",
                needs_hospital_care=True,
                treatment="口服氯雷他定，留观区观察",
                outcome="recovered",
            )
            if report is not None:
                self._referral_path(line, report, "cancelled")

        def on_the_way() -> None:  # the one in progress now
            at = clock.now()
            dose = self.give(
                chengguan, self._lot_of("DTAP", 1), at - timedelta(minutes=22), age_years=1
            )
            report = self.file(
                dose,
                onset_at=at - timedelta(minutes=8),
                discovered_at=at - timedelta(minutes=7),
                symptoms=["ANGIO", "URTIC", "BRONCHO"],
                serious=SeriousIn(life_threatening=True),
                description="接种后口唇肿胀，伴轻度喘鸣",
                treatment="肌注肾上腺素 0.1 mg，吸氧",
                needs_hospital_care=True,
                outcome="recovering",
            )
            if report is not None:
                self._referral_path(line, report, "on_the_way")

        def rash() -> None:  # an allergic rash: a rare reaction, the CDC investigates
            at = clock.now()
            dose = self.give(
                self.sites[2], self._lot_of("VAR"), at - timedelta(hours=5), age_years=2
            )
            self.file(
                dose,
                onset_at=at - timedelta(hours=3),
                discovered_at=at - timedelta(hours=2),
                symptoms=["RASH", "ITCH"],
                description="接种后约两小时躯干、四肢出现散在红色丘疹，伴瘙痒",
                treatment="口服氯雷他定",
                outcome="recovering",
            )

        # The case files these open reach every status by now (see _work_case).
        line.at(_local(self.now, 63, 10, 5), urticaria_cancelled, "urticaria")
        line.at(_local(self.now, 12, 14, 20), seizure, "seizure")
        line.at(_local(self.now, 6, 15, 10), rash, "rash")
        line.at(_local(self.now, 3, 10, 40), hhe, "hhe")
        line.at(self.now - timedelta(minutes=40), on_the_way, "on the way")

    def _lot_of(self, code: str, nth: int = 0) -> Lot:
        """The ``nth`` usable lot of the vaccine, from its last (not the story's lot)."""
        v = self.vaccines[code]
        lots = self.s.exec(
            select(Lot).where(Lot.vaccine_id == v.id).order_by(col(Lot.id).desc())
        ).all()
        usable = [lot for lot in lots[:-1] if lot_states.is_usable(lot)] or list(lots)
        return usable[nth % len(usable)]

    # --- the county CDC's work on the case files ------------------------------------------

    def _work_case(self, line: _Timeline, case_id: int, t: datetime) -> None:
        """The county CDC's steps on a case at their moments: started within a day or two,
        the form within three days, the expert panel in the second week, the classification,
        closed a few days later. A case received recently is not that far along yet."""
        inv = self.actor("investigator")
        started = t + timedelta(hours=self.rng.uniform(4, 20))
        form_done = t + timedelta(days=2)
        to_panel = t + timedelta(days=4)
        classified = t + timedelta(days=10)
        closed = t + timedelta(days=14)

        def start() -> None:
            case_files.take_case(self.s, inv, case_id)  # taking it starts the investigation

        def form() -> None:
            case = self.s.get(CaseFile, case_id)
            for key, values in form_values(case).items():
                case_form.save_section(self.s, inv, case_id, key, values)
            case_form.complete_form(self.s, inv, case_id)
            if case.preliminary_due_at is not None or case.serious:
                case_form.record_preliminary_report(self.s, inv, case_id)

        def panel_step() -> None:
            case_files.change_status(self.s, inv, case_id, "to_panel")

        def classify() -> None:
            case = self.s.get(CaseFile, case_id)
            groups = set(case.event_groups or [])
            common = groups <= {"fever", "local_reaction", "systemic_other", "gastrointestinal"}
            panel.classify_case(
                self.s,
                inv,
                case_id,
                ClassifyIn(
                    china_classification=ChinaClassification.common_reaction
                    if common
                    else ChinaClassification.rare_reaction,
                    panel_diagnosis="疫苗一般反应" if common else "预防接种异常反应",
                    panel_members="县预防接种异常反应调查诊断专家组（5人）",
                ),
            )

        def close() -> None:
            panel.close_case(self.s, inv, case_id, CloseIn(note="患者已痊愈，调查完成"))

        line.at(started, start, "case start")
        line.at(form_done, form, "case form")
        line.at(to_panel, panel_step, "case to panel")
        line.at(classified, classify, "case classified")
        line.at(closed, close, "case closed")

    def daily_reports(self, line: _Timeline, days: int) -> None:
        today = clock.to_local(self.now).date()
        for site in self.sites:  # nobody is left on a board from an earlier day
            line.at(_local(self.now, 1, 23, 0), _bind(self._sweep, site), "last sweep")
        for back in range(days, 0, -1):
            day = today - timedelta(days=back)
            for site in self.sites:
                r = self.rng.random()
                if r < 0.05:
                    continue  # never submitted
                hour = (16, 40) if r < 0.88 else (None, None)
                if hour[0] is not None:
                    at = _local(self.now, back, 16, self.rng.randint(5, 55))
                else:  # late: after the deadline
                    at = daily.deadline_of(day) + timedelta(hours=self.rng.uniform(2, 20))
                line.at(at, _bind(self._submit_daily, site, day), "daily")
                self.end_of_session(site, _local(self.now, back, 12, 0))

    def _submit_daily(self, site: Site, day) -> None:
        daily.submit_daily(self.s, self.physician(site), day, {}, confirmed=True)
        self.h.daily_reports += 1


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _bind(fn, *args, **kw) -> Callable[[], None]:
    def run() -> None:
        fn(*args, **kw)

    run.__name__ = getattr(fn, "__name__", "step")
    return run


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth; the means here are small)."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _pick(rng: random.Random, mix: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([k for k, _w in mix], weights=[w for _k, w in mix])[0]


def _common_card(rng: random.Random, kind: str, code: str) -> tuple[dict, timedelta]:
    """A common report's card and its onset after the dose."""
    clear = rng.random() < 0.7  # most common reactions are clearly diagnosed on site
    if kind == "fever":
        t = round(rng.uniform(37.6, 39.2), 1)
        card = dict(
            symptoms=["FEVER"] if t < 38.6 else ["FEVHI"],
            max_temperature_c=t,
            description=f"接种后当晚体温 {t} ℃，精神尚可",
            treatment="物理降温，多饮水",
            outcome="recovered",
            diagnosis="发热（一般反应）",
        )
        after = timedelta(hours=rng.uniform(4, 20))
    elif kind == "local":
        cm = round(rng.uniform(1.5, 5.0), 1)
        card = dict(
            symptoms=["REDNESS", "SWELL"],
            local_reaction_cm=cm,
            description=f"注射部位红肿，直径约 {cm} cm",
            treatment="冷敷",
            outcome="recovered",
            diagnosis="局部红肿（一般反应）",
        )
        after = timedelta(hours=rng.uniform(6, 30))
    elif kind == "rash":
        card = dict(
            symptoms=["RASH", "ITCH"],
            description="躯干散在皮疹，伴瘙痒",
            treatment="口服抗过敏药",
            outcome="recovered",
            diagnosis="过敏性皮疹",
        )
        clear = False  # a rare reaction: the county CDC investigates
        after = timedelta(hours=rng.uniform(2, 24))
    elif kind == "crying":
        card = dict(
            symptoms=["CRYING"],
            description="接种后持续哭闹约 3 小时，哄抱后入睡",
            outcome="recovered",
            diagnosis="持续哭闹（一般反应）",
        )
        after = timedelta(hours=rng.uniform(1, 6))
    else:
        card = dict(
            symptoms=["VOMIT", "NAUSEA"],
            description="接种后呕吐两次，无发热",
            outcome="recovered",
            diagnosis="胃肠道反应",
        )
        after = timedelta(hours=rng.uniform(2, 12))
    card["diagnosis_clear"] = clear
    return card, after


def form_values(case: CaseFile) -> dict[str, dict[str, str]]:
    """An investigation form filled as a county CDC investigator fills it."""
    out: dict[str, dict[str, str]] = {}
    for section in sections.SECTIONS:
        values: dict[str, str] = {}
        for f in section.fields:
            if f.kind == "yesno":
                values[f.name] = "no" if f.concern == "yes" else "yes" if f.concern else "no"
            elif f.kind == "choice":
                values[f.name] = f.choices[0][0]
            elif f.kind in ("int", "number"):
                if f.low is not None and f.high is not None:
                    values[f.name] = (
                        str(int((f.low + f.high) / 2))
                        if f.kind == "int"
                        else f"{(f.low + f.high) / 2:g}"
                    )
                elif f.required:
                    values[f.name] = "0"
            elif f.kind == "date":
                if f.required:
                    values[f.name] = clock.local_today().isoformat()
            elif f.kind == "datetime":
                continue
            elif f.required:
                values[f.name] = "已核实，无特殊"
        out[section.key] = values
    return out
