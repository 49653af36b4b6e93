"""Registry JSON API (API.md, registry section)."""

from __future__ import annotations

from fastapi import APIRouter, File, Query, UploadFile, status

from aefi.aftercare import schedule
from aefi.deps import ApiActor, SessionDep
from aefi.errors import Invalid
from aefi.registry import access, importer
from aefi.registry.doses import service as doses
from aefi.registry.lots import service as lots
from aefi.registry.records import service as records
from aefi.registry.schemas import (
    Created,
    DoseCreate,
    HospitalCreate,
    ImportResult,
    LotCreate,
    LotPublic,
    RecallIn,
    SiteCreate,
    VaccineCreate,
    VaccinePublic,
    VaccineUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["registry"])


@router.post("/vaccines", status_code=status.HTTP_201_CREATED, response_model=Created)
def create_vaccine(body: VaccineCreate, session: SessionDep, actor: ApiActor) -> Created:
    v = records.create_vaccine(session, actor, **body.model_dump())
    return Created(id=v.id)


@router.patch("/vaccines/{code}", response_model=VaccinePublic)
def edit_vaccine(
    code: str, body: VaccineUpdate, session: SessionDep, actor: ApiActor
) -> VaccinePublic:
    """Change a product's names, observation minutes or check-in days (admin; the province
    too). Its halt changes only through a halt decision."""
    v = records.edit_vaccine(session, actor, code, body.model_dump(exclude_unset=True))
    return VaccinePublic(
        **v.model_dump(include=set(VaccinePublic.model_fields) - {"checkin_schedule"}),
        checkin_schedule=list(schedule.days_for(v.code, v.checkin_days)),
    )


@router.post("/lots", status_code=status.HTTP_201_CREATED, response_model=Created)
def create_lot(body: LotCreate, session: SessionDep, actor: ApiActor) -> Created:
    lot = records.create_lot(
        session,
        actor,
        lot_number=body.lot_number,
        vaccine_code=body.vaccine_code,
        expiry_on=body.expiry_date,
        doses_received=body.doses_received,
    )
    return Created(id=lot.id)


@router.get("/lots/{lot_number}", response_model=LotPublic)
def get_lot(lot_number: str, session: SessionDep, actor: ApiActor) -> LotPublic:
    lot, vaccine = access.get_lot(session, actor, lot_number)
    state = records.lot_state(session, actor, lot)  # the state in force in the actor's county
    return LotPublic(
        id=lot.id,
        lot_number=lot.lot_number,
        vaccine_code=vaccine.code,
        vaccine_name=vaccine.name,
        manufacturer=vaccine.manufacturer,
        expiry_date=lot.expiry_on,
        doses_received=lot.doses_received,
        status=state.status,
        status_note=state.note,
    )


@router.post("/lots/{lot_number}/recall", response_model=LotPublic)
def recall_lot(lot_number: str, body: RecallIn, session: SessionDep, actor: ApiActor) -> LotPublic:
    """Record a recall notice: the lot is withdrawn in every county."""
    lots.record_recall(session, actor, lot_number, notice=body.notice)
    return get_lot(lot_number, session, actor)


@router.post("/sites", status_code=status.HTTP_201_CREATED, response_model=Created)
def create_site(body: SiteCreate, session: SessionDep, actor: ApiActor) -> Created:
    return Created(id=records.create_site(session, actor, **body.model_dump()).id)


@router.post("/hospitals", status_code=status.HTTP_201_CREATED, response_model=Created)
def create_hospital(body: HospitalCreate, session: SessionDep, actor: ApiActor) -> Created:
    return Created(id=records.create_hospital(session, actor, **body.model_dump()).id)


@router.post("/doses", status_code=status.HTTP_201_CREATED, response_model=Created)
def record_dose(body: DoseCreate, session: SessionDep, actor: ApiActor) -> Created:
    return Created(id=doses.record_dose(session, actor, body).id)


@router.post("/doses/import", response_model=ImportResult)
def import_doses(
    session: SessionDep,
    actor: ApiActor,
    file: UploadFile = File(..., description="CSV with a header row; see importer.COLUMNS"),
    all_or_nothing: bool = Query(False, description="keep nothing if any row is bad"),
) -> ImportResult:
    report = importer.import_doses(
        session, actor, file.file, all_or_nothing=all_or_nothing, filename=file.filename or ""
    )
    if report.error:  # the file as a whole could not be read: nothing imported
        raise Invalid(report.error, fields={"file": report.error_message}, **report.error_params)
    return ImportResult(
        imported=report.imported,
        duplicates=report.duplicates,
        rejected_count=report.rejected_count,
        rejected=report.rejected,
        rolled_back=report.rolled_back,
        encoding=report.encoding,
    )
