"""REST API v1 views: check who may do what, call services and selectors, shape the answer.

Other users' jobs are 404, never 403, as on the site. The API works with accounts only (a token
or a signed-in session): anonymous visitors' photos, tied to a browser session, are not exposed
here, so anonymous callers see only the models and published jobs.
"""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import APIException, NotFound, Throttled, ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated, IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from coloria_site.refusals import Refusal
from ml import imagenet

from .. import callbacks
from ..models import Job
from ..selectors import access, downloads, model_pages
from ..selectors import films as film_selectors
from ..services import films, running, sharing, storage, submission
from ..services.errors import QuotaExceeded
from . import job_pages
from .errors import errors
from .serializers import (
    CallbackSecretSerializer,
    ColorModelSerializer,
    ImageNetClassSerializer,
    JobFilterSerializer,
    JobSerializer,
    JobSubmitSerializer,
    RefineSerializer,
    ShareLinkSerializer,
    SubmissionSerializer,
)
from .throttling import ScopeRateThrottle

# Form fields of a submit that are not model parameters.
SUBMIT_FIELDS = {"images", "model", "callback_url", "reference", "csrfmiddlewaretoken"}

RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    location=OpenApiParameter.HEADER,
    response=[429],
    description="Seconds to wait before the next request in this scope.",
)
IMAGE = OpenApiResponse(OpenApiTypes.BINARY, description="The image, as an attachment.")


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The job is not in a state that allows this."
    default_code = "conflict"


class ScopedThrottleMixin:
    """Requests with a method in `submit_methods` queue model runs: they count in `submit`."""

    submit_methods: tuple[str, ...] = ()

    def get_throttles(self) -> list[ScopeRateThrottle]:
        scope = "submit" if self.request.method in self.submit_methods else "read"
        return [ScopeRateThrottle(scope)]


class ApiView(ScopedThrottleMixin, APIView):
    pass


class QuotaReached(Throttled):
    """A 429 for the daily quota. Its message already says when it frees, so DRF's own "Expected
    available in N seconds" is not appended; `wait` still becomes the Retry-After header."""

    def __init__(self, *, wait: float, detail: str) -> None:
        super().__init__(detail=detail)
        self.wait = math.ceil(wait)


class AnyAccept(BaseContentNegotiation):
    """Image downloads answer whatever the client accepts (image/png, image/*, …): the body is
    the file; only an error is rendered, and always as JSON."""

    def select_parser(self, request: Request, parsers: list) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: list, format_suffix: Any = None) -> Any:
        return renderers[0], renderers[0].media_type


class ImageDownloadView(ApiView):
    content_negotiation_class = AnyAccept


def _job_or_404(request: Request, job_id: Any, *, owner: bool = False) -> Job:
    # session_key="": a session's anonymous photos are not the API's (see the module docstring).
    find = access.job_for_owner if owner else access.job_for_viewer
    job = find(job_id=job_id, user=request.user, session_key="")
    if job is None:
        raise NotFound("No such job.")
    return job


def _job_data(request: Request, job: Job) -> dict[str, Any]:
    return JobSerializer(job, context={"request": request}).data


# --- Models ---------------------------------------------------------------------------------


class ModelListView(ApiView):
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["models"],
        summary="List every model",
        description="Every model Coloria knows, with its parameters (ranges and defaults) and "
        "whether its weights are installed (only installed models can be submitted).",
        responses={200: ColorModelSerializer(many=True), **errors(401, 429)},
        parameters=[RETRY_AFTER],
    )
    def get(self, request: Request) -> Response:
        serializer = ColorModelSerializer(
            model_pages.model_choices(),
            many=True,
            context={
                "default_key": submission.default_model_key(),
                "video_default_key": films.default_film_model(),
            },
        )
        return Response(serializer.data)


class ImageNetClassListView(ApiView):
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["models"],
        summary="List the ImageNet classes",
        description="The 1000 classes BigColor can be conditioned on (`imagenet_class`).",
        responses={200: ImageNetClassSerializer(many=True), **errors(401, 429)},
        parameters=[RETRY_AFTER],
    )
    def get(self, request: Request) -> Response:
        names = imagenet.class_names()
        return Response([{"index": index, "name": name} for index, name in enumerate(names)])


# --- Callbacks ----------------------------------------------------------------------------


class CallbackSecretView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["callbacks"],
        summary="The caller's callback signing key",
        description="Jobs submitted with a `callback_url` POST their JSON (as `GET /jobs/{id}`) "
        "there when they end, with `X-Coloria-Signature: sha256=<hex>`: the HMAC-SHA256 of the "
        "raw body with this key. Only https URLs resolving to public addresses are accepted; "
        "no redirects are followed; 5 s timeout, 3 attempts with back-off.",
        parameters=[RETRY_AFTER],
        responses={200: CallbackSecretSerializer, **errors(401, 429)},
    )
    def get(self, request: Request) -> Response:
        data = {
            "secret": callbacks.callback_secret(request.user),
            "signature_header": callbacks.SIGNATURE_HEADER,
        }
        return Response(CallbackSecretSerializer(data).data)


# --- Jobs -----------------------------------------------------------------------------------


class JobPagination(CursorPagination):
    ordering = "-queued_at"  # newest first
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request: Request) -> int:
        """`page_size` 1-100, or 20 when absent; anything else is a 400 (not silently clamped)."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isdigit() and 1 <= int(raw) <= self.max_page_size):
            raise ValidationError(
                {"page_size": [f"Give a whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.cursor_query_param:
                parameter["description"] = (
                    "Opaque: the value from a `next` or `previous` link. Anything else is "
                    "refused with 400 on `cursor`."
                )
            elif parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(
                    minimum=1, maximum=self.max_page_size, default=self.page_size
                )
                parameter["description"] = f"Jobs per page, 1 to {self.max_page_size}."
        return parameters

    # A cursor is opaque; one that was not ours (garbled, or crafted with a position that is no
    # date) is a 400 on the `cursor` field, like every other refused request, never a 500.
    def decode_cursor(self, request: Request) -> Any:
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise _invalid_cursor() from None

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: Any = None) -> Any:
        try:
            return super().paginate_queryset(queryset, request, view)
        except (DjangoValidationError, ValueError, OverflowError):
            raise _invalid_cursor() from None


def _invalid_cursor() -> ValidationError:
    return ValidationError({"cursor": ["Invalid cursor: use the next or previous link as given."]})


class JobListView(ScopedThrottleMixin, generics.ListAPIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser]  # images arrive as multipart files
    serializer_class = JobSerializer
    pagination_class = JobPagination
    submit_methods = ("POST",)

    def get_queryset(self) -> QuerySet[Job]:
        params = self.request.query_params
        if empty := [name for name in ("model", "status") if params.get(name, None) == ""]:
            # A form would skip an empty filter silently; an API says what it did not take.
            raise ValidationError(
                {name: ["Give a value, or leave the filter out."] for name in empty}
            )
        filters = JobFilterSerializer(data=params)
        filters.is_valid(raise_exception=True)
        jobs = job_pages.owner_jobs(self.request.user)
        if model := filters.validated_data.get("model"):
            jobs = jobs.filter(model_key=model)
        if job_status := filters.validated_data.get("status"):
            jobs = jobs.filter(status=job_status)
        return jobs

    def paginate_queryset(self, queryset: QuerySet[Job]) -> Any:
        if any(self.request.query_params.get(name) for name in ("model", "status")):
            return super().paginate_queryset(queryset)
        return super().paginate_queryset(job_pages.FirstPages(self.request.user))

    @extend_schema(
        tags=["jobs"],
        summary="List the caller's jobs",
        description="The caller's jobs, newest first, cursor-paginated (follow `next`).",
        parameters=[JobFilterSerializer, RETRY_AFTER],
        responses={
            200: JobSerializer(many=True),
            **errors(401, 429),
            400: OpenApiResponse(
                {"$ref": "#/components/schemas/ValidationError"},
                description="A refused filter (`model`, `status`: empty or unknown), a "
                "`page_size` outside 1-100, or a `cursor` that is not one of ours: "
                "field → messages.",
            ),
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["jobs"],
        summary="Submit images",
        description="Multipart upload of 1–5 `images` with a `model` key (or `all` for one "
        "image). Every other field is a model parameter (see `GET /models`); a parameter the "
        "model does not take is refused. Answers 202: the jobs are queued; poll their `url`. "
        "Each job (one image through one model) counts against the caller's daily quota; "
        "over it, 429 says when enough is free again (`Retry-After`).",
        request={"multipart/form-data": JobSubmitSerializer},
        parameters=[RETRY_AFTER],
        responses={202: SubmissionSerializer, **errors(400, 401, 403, 415, 429)},
    )
    def post(self, request: Request) -> Response:
        form = JobSubmitSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        params = {name: value for name, value in request.data.items() if name not in SUBMIT_FIELDS}
        try:
            batch = submission.job_submit(
                files=form.validated_data["images"],
                model_key=form.validated_data["model"],
                params=params,
                owner=request.user,
                callback_url=form.validated_data.get("callback_url", ""),
                reference=form.validated_data.get("reference"),
            )
        except Refusal as exc:
            if isinstance(exc, QuotaExceeded) and exc.retry_after:
                # 429 with Retry-After, like the rate limits; the message says when it frees.
                raise QuotaReached(wait=exc.retry_after, detail=exc.message) from None
            # Refusals that waiting would not cure (a request bigger than the whole quota too).
            raise ValidationError({exc.field: [exc.message]}) from None
        jobs = list(access.batch_jobs(batch))  # read again: a synchronous run has finished
        data = {"batch": batch.id, "jobs": jobs}
        return Response(
            SubmissionSerializer(data, context={"request": request}).data,
            status=status.HTTP_202_ACCEPTED,
        )


class JobDetailView(ApiView):
    permission_classes = [IsAuthenticatedOrReadOnly]  # anyone may read a published job

    @extend_schema(
        tags=["jobs"],
        summary="A job's status",
        description="Status, timings, error and links. Owners and staff see their jobs; anyone "
        "sees a published one.",
        parameters=[RETRY_AFTER],
        responses={200: JobSerializer, **errors(401, 404, 429)},
    )
    def get(self, request: Request, job_id: Any) -> Response:
        return Response(_job_data(request, _job_or_404(request, job_id)))

    @extend_schema(
        tags=["jobs"],
        summary="Delete a job",
        description="Deletes the job and its result; the original too when no other job uses it.",
        parameters=[RETRY_AFTER],
        responses={204: OpenApiResponse(description="Deleted."), **errors(401, 403, 404, 429)},
    )
    def delete(self, request: Request, job_id: Any) -> Response:
        storage.job_delete(job=_job_or_404(request, job_id, owner=True))
        return Response(status=status.HTTP_204_NO_CONTENT)


class JobResultView(ImageDownloadView):
    permission_classes = [AllowAny]  # who may see it is the job lookup's rule

    @extend_schema(
        tags=["jobs"],
        summary="Download the result",
        description="The full-resolution colorized image (a film's MP4, byte ranges served; "
        "`format=jpeg`: its poster), to its owner (and staff), or to anyone once published. 409 "
        "while the job has no result.",
        parameters=[
            OpenApiParameter("format", str, enum=["png", "jpeg"], default="png"),
            RETRY_AFTER,
        ],
        responses={
            (200, "image/png"): IMAGE,
            (200, "image/jpeg"): IMAGE,
            (200, "video/mp4"): IMAGE,
            **errors(400, 401, 404, 409, 429),
        },
    )
    def get(self, request: Request, job_id: Any) -> HttpResponse:
        image_format = request.query_params.get("format", "png")
        if image_format not in ("png", "jpeg"):
            raise ValidationError({"format": ["Choose png or jpeg."]})
        job = _job_or_404(request, job_id)
        if not job.has_result:
            raise Conflict(f"This job has no result ({job.get_status_display().lower()}).")
        owner = access.is_owner(job, request.user, "")
        if job.is_video and image_format == "png":  # a film: its MP4, with byte ranges
            found = film_selectors.film_file(job, "result", owner=owner)
            return film_selectors.film_response(request, *found, attachment=True)
        found = downloads.result(job, owner=owner, image_format=image_format)
        return found.response(attachment=True)


class JobPosterView(ImageDownloadView):
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["jobs"],
        summary="Download a film's poster",
        description="A colorized film's first frame (JPEG). 404 for a photo; 409 until done.",
        parameters=[RETRY_AFTER],
        responses={(200, "image/jpeg"): IMAGE, **errors(401, 404, 409, 429)},
    )
    def get(self, request: Request, job_id: Any) -> HttpResponse:
        job = _job_or_404(request, job_id)
        if not job.is_video:
            raise NotFound("Only a film has a poster.")
        if not job.has_result:
            raise Conflict(f"This job has no result ({job.get_status_display().lower()}).")
        owner = access.is_owner(job, request.user, "")
        found = film_selectors.film_file(job, "poster", owner=owner)
        return film_selectors.film_response(request, *found, attachment=False)


class JobOriginalView(ImageDownloadView):
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["jobs"],
        summary="Download the original",
        description="The uploaded photo as it was sent, to its owner. Anyone else (a published "
        "job's visitors) gets a copy without its metadata (no EXIF location or camera details; "
        "orientation applied, colour profile kept).",
        parameters=[RETRY_AFTER],
        responses={(200, "image/*"): IMAGE, **errors(401, 404, 429)},
    )
    def get(self, request: Request, job_id: Any) -> HttpResponse:
        job = _job_or_404(request, job_id)
        owner = access.is_owner(job, request.user, "")
        return downloads.original(job, owner=owner, as_sent=True).response(attachment=True)


class JobActionView(ApiView):
    """POST /jobs/{id}/<action>: an owner's action on a job (staff moderate in the admin)."""

    permission_classes = [IsAuthenticated]
    action_name = ""

    def act(self, job: Job) -> Job:
        raise NotImplementedError

    def post(self, request: Request, job_id: Any) -> Response:
        job = _job_or_404(request, job_id, owner=True)
        try:
            job = self.act(job)
        except Refusal as exc:
            raise Conflict(exc.message) from None
        code = status.HTTP_202_ACCEPTED if self.action_name == "retry" else status.HTTP_200_OK
        return Response(_job_data(request, job), status=code)


def _action_schema(summary: str, description: str, code: int) -> Any:
    return extend_schema(
        tags=["jobs"],
        summary=summary,
        description=description,
        request=None,
        parameters=[RETRY_AFTER],
        responses={code: JobSerializer, **errors(401, 403, 404, 409, 429)},
    )


class JobRetryView(JobActionView):
    action_name = "retry"
    submit_methods = ("POST",)  # it runs the model again

    @_action_schema("Retry a failed job", "Queues a failed job again (202).", 202)
    def post(self, request: Request, job_id: Any) -> Response:
        return super().post(request, job_id)

    def act(self, job: Job) -> Job:
        return running.job_retry(job=job)


class JobCancelView(JobActionView):
    action_name = "cancel"

    @_action_schema(
        "Cancel a queued or running job",
        "Stops it: the job fails as `Cancelled.` (a running film stops within about a second; "
        "a retry goes on from the frames it kept). 409 when it has finished already.",
        200,
    )
    def post(self, request: Request, job_id: Any) -> Response:
        return super().post(request, job_id)

    def act(self, job: Job) -> Job:
        if not running.job_cancel(job=job):
            raise Conflict(f"This job has finished ({job.get_status_display().lower()}).")
        return job


class JobRefineView(ApiView):
    permission_classes = [IsAuthenticated]
    submit_methods = ("POST",)  # it runs a model

    @extend_schema(
        tags=["jobs"],
        summary="Refine a result with colour strokes",
        description="Queues a new job on the same photo: the colour scribbles model repaints "
        "this job's result where the strokes say (their colour spreads inside the regions they "
        "touch and fades across edges), leaving the rest as it was. Answers 202 with the new job.",
        request=RefineSerializer,
        parameters=[RETRY_AFTER],
        responses={202: JobSerializer, **errors(400, 401, 403, 404, 409, 429)},
    )
    def post(self, request: Request, job_id: Any) -> Response:
        job = _job_or_404(request, job_id, owner=True)
        form = RefineSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            refined = running.job_refine(job=job, hints=form.validated_data.get("hints"))
        except Refusal as exc:
            if isinstance(exc, QuotaExceeded) and exc.retry_after:
                raise QuotaReached(wait=exc.retry_after, detail=exc.message) from None
            raise ValidationError({"hints": [exc.message]}) from None
        refined.refresh_from_db()  # a synchronous run (COLORIA_SYNC_JOBS) has finished
        return Response(_job_data(request, refined), status=status.HTTP_202_ACCEPTED)


class JobPublishView(JobActionView):
    action_name = "publish"

    @_action_schema(
        "Publish a job", "Puts a succeeded job in the public gallery: anyone may then read it.", 200
    )
    def post(self, request: Request, job_id: Any) -> Response:
        return super().post(request, job_id)

    def act(self, job: Job) -> Job:
        return sharing.job_publish(job=job)


class JobUnpublishView(JobActionView):
    action_name = "unpublish"

    @_action_schema("Unpublish a job", "Withdraws a job from the public gallery.", 200)
    def post(self, request: Request, job_id: Any) -> Response:
        return super().post(request, job_id)

    def act(self, job: Job) -> Job:
        return sharing.job_unpublish(job=job)


class JobShareView(ApiView):
    """/jobs/{id}/share: the job's unlisted share link (the site's /s/<token>/ page)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["jobs"],
        summary="Make a share link",
        description="Gives a succeeded job an unlisted link that anyone who has it may open, "
        "without an account: 201 with the new link, or 200 with the one it already has. 409 for "
        "a job that has no result or that a moderator hid.",
        request=None,
        parameters=[RETRY_AFTER],
        responses={
            201: ShareLinkSerializer,
            200: ShareLinkSerializer,
            **errors(401, 403, 404, 409, 429),
        },
    )
    def post(self, request: Request, job_id: Any) -> Response:
        job = _job_or_404(request, job_id, owner=True)
        had_one = bool(job.share_token)
        try:
            job = sharing.job_share(job=job)
        except Refusal as exc:
            raise Conflict(exc.message) from None
        share_url = request.build_absolute_uri(reverse("colorize:shared", args=[job.share_token]))
        code = status.HTTP_200_OK if had_one else status.HTTP_201_CREATED
        return Response(ShareLinkSerializer({"share_url": share_url}).data, status=code)

    @extend_schema(
        tags=["jobs"],
        summary="Revoke the share link",
        description="The job's share link answers 404 from now on; making one again gives a "
        "new link. Answers `share_url: null`, also for a job that had none.",
        request=None,
        parameters=[RETRY_AFTER],
        responses={200: ShareLinkSerializer, **errors(401, 403, 404, 429)},
    )
    def delete(self, request: Request, job_id: Any) -> Response:
        sharing.job_unshare(job=_job_or_404(request, job_id, owner=True))
        return Response(ShareLinkSerializer({"share_url": None}).data)
