"""What the API reads and writes. Serializers shape data only: the rules are in services."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

import ml

from ..links import address_maker
from ..models import Job, Kind
from ..selectors import model_pages

# --- Models ---------------------------------------------------------------------------------


class ParameterSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The form field to send with `POST /jobs`.")
    kind = serializers.ChoiceField(
        choices=["int", "float", "bool", "choice", "hints", "imagenet_class"],
        help_text="`imagenet_class`: a class number 0-999, a class name, or `auto` (-1); the "
        "names are at `GET /imagenet-classes`. `hints`: JSON, a list of points `[x, y, colour]` "
        'and strokes `{"points": [[x, y], ...], "color": "#rrggbb", "width": 8}` in the '
        "photo's pixels.",
    )
    required = serializers.BooleanField(
        help_text="The model cannot run without it (“all models” leaves such a model out)."
    )
    label = serializers.CharField()
    help = serializers.CharField()
    default = serializers.JSONField(help_text="Used when the field is left out.")
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    choices = serializers.ListField(child=serializers.CharField(), help_text="For `choice`.")


class ColorModelSerializer(serializers.Serializer):
    """One registry model (a model_pages.ModelChoice)."""

    key = serializers.CharField(source="spec.key", help_text="The `model` to send to submit.")
    name = serializers.CharField(source="spec.name")
    short_name = serializers.CharField(source="spec.plain_name", help_text="For a picker.")
    character = serializers.CharField(
        source="spec.character", help_text="The model's colour in a few words."
    )
    family = serializers.CharField(source="spec.family")
    hint = serializers.CharField(source="spec.hint")
    description = serializers.CharField(source="spec.description")
    official = serializers.BooleanField(source="spec.official")
    installed = serializers.BooleanField(help_text="Whether its weights are installed here.")
    unavailable_reason = serializers.CharField()
    experimental = serializers.SerializerMethodField(
        help_text="Its shipped weights do not yet beat leaving the photo grey (see its page)."
    )
    is_default = serializers.SerializerMethodField()
    video = serializers.BooleanField(
        source="spec.video", help_text="Fit for film: it can colorize a video sent to submit."
    )
    is_video_default = serializers.SerializerMethodField(
        help_text="The model recommended for film (DeOldify Video when installed)."
    )
    parameters = serializers.SerializerMethodField()

    def get_experimental(self, choice: model_pages.ModelChoice) -> bool:
        return choice.experimental is not None

    def get_is_default(self, choice: model_pages.ModelChoice) -> bool:
        return choice.spec.key == self.context.get("default_key")

    def get_is_video_default(self, choice: model_pages.ModelChoice) -> bool:
        return choice.spec.key == self.context.get("video_default_key")

    @extend_schema_field(ParameterSerializer(many=True))
    def get_parameters(self, choice: model_pages.ModelChoice) -> list[dict]:
        # Internal parameters (which candidate a job is) are set by Coloria, not by callers.
        public = [param for param in choice.spec.params if not param.internal]
        return ParameterSerializer(public, many=True).data


class RefineSerializer(serializers.Serializer):
    hints = serializers.JSONField(
        required=False,
        help_text='Colour strokes and points: `[{"points": [[x, y], ...], "color": "#rrggbb", '
        '"width": 8}, [x, y, "#rrggbb"], ...]` in the pixels of the result.',
    )


class ImageNetClassSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The value to send as `imagenet_class`.")
    name = serializers.CharField(help_text="Also accepted as `imagenet_class`.")


# --- Jobs -----------------------------------------------------------------------------------


class ProgressSerializer(serializers.Serializer):
    """A film's progress, frame by frame."""

    done = serializers.IntegerField(help_text="Frames colorized so far.")
    total = serializers.IntegerField(help_text="Frames in the film.")
    seconds_left = serializers.FloatField(
        allow_null=True, help_text="The worker's estimate of the time left; null until known."
    )


class JobSerializer(serializers.Serializer):
    # The columns it reads (with select_related("upload", "result")), for lists that load only
    # these: a job row has some 30 columns, a list 20 jobs. A field added below that reads
    # another column must be added here, or each row costs a query of its own (a test counts).
    COLUMNS = (
        *("id", "batch_id", "model_key", "params", "status", "error", "kind", "attempts"),
        *("queued_at", "started_at", "finished_at", "published_at", "hidden_reason"),
        *("progress_done", "progress_total", "progress_eta", "upload__frames", "result__details"),
    )

    id = serializers.UUIDField()
    url = serializers.SerializerMethodField(help_text="This job in the API.")
    web_url = serializers.SerializerMethodField(help_text="This job's page on the site.")
    batch = serializers.UUIDField(source="batch_id", help_text="The submission it came from.")
    model = serializers.CharField(source="model_key")
    model_name = serializers.SerializerMethodField()
    params = serializers.JSONField(help_text="The parameters the model ran with.")
    details = serializers.SerializerMethodField(
        help_text="What the model chose by itself, once it has run: BigColor's `imagenet_class` "
        "and `seed`. Empty for other models."
    )
    status = serializers.ChoiceField(choices=Job.Status.choices)
    error = serializers.CharField(help_text="Why it failed, for people; empty otherwise.")
    queued_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.FloatField(allow_null=True, help_text="Running time.")
    attempts = serializers.IntegerField()
    published_at = serializers.DateTimeField(allow_null=True)
    hidden_reason = serializers.CharField(help_text="Why a moderator hid it, if one did.")
    original_url = serializers.SerializerMethodField()
    result_url = serializers.SerializerMethodField(help_text="Null until the job has succeeded.")
    kind = serializers.ChoiceField(
        choices=Kind.choices, help_text="`photo` (the result is a PNG) or `video` (an MP4)."
    )
    progress = serializers.SerializerMethodField(
        help_text="A film's frames done, of all; null for a photo."
    )
    video_url = serializers.SerializerMethodField(
        help_text="A film's colorized MP4 (byte ranges served); null for a photo and until done."
    )
    poster_url = serializers.SerializerMethodField(
        help_text="A film's first colorized frame (JPEG); null for a photo and until done."
    )

    def to_representation(self, job: Job) -> dict[str, Any]:
        """What DRF's own `to_representation` gives (tests/api/test_job_json.py holds the two
        equal), built directly: its walk over the fields above, each looked up through its
        source and checked for None, is most of what a list of jobs costs (some 50 µs a job)."""
        value = self._value
        return {
            "id": value("id", job.id),
            "url": self.get_url(job),
            "web_url": self.get_web_url(job),
            "batch": value("batch", job.batch_id),
            "model": value("model", job.model_key),
            "model_name": self.get_model_name(job),
            "params": value("params", job.params),
            "details": self.get_details(job),
            "status": value("status", job.status),
            "error": value("error", job.error),
            "queued_at": self._datetime("queued_at", job.queued_at),
            "started_at": self._datetime("started_at", job.started_at),
            "finished_at": self._datetime("finished_at", job.finished_at),
            "duration_seconds": value("duration_seconds", job.duration_seconds),
            "attempts": value("attempts", job.attempts),
            "published_at": self._datetime("published_at", job.published_at),
            "hidden_reason": value("hidden_reason", job.hidden_reason),
            "original_url": self.get_original_url(job),
            "result_url": self.get_result_url(job),
            "kind": value("kind", job.kind),
            "progress": self.get_progress(job),
            "video_url": self.get_video_url(job),
            "poster_url": self.get_poster_url(job),
        }

    def _datetime(self, name: str, value: Any) -> Any:
        """What DateTimeField gives (ISO 8601 in the current time zone, UTC as Z), that zone
        looked up once a serializer, not once a value: a list of 20 jobs has some 60 dates, and
        the lookup (a context-local read) was a tenth of the list's cost."""
        field = self._declared_fields[name]
        zone = self.__dict__.get("_zone") or self.__dict__.setdefault(
            "_zone", field.default_timezone()
        )
        iso = str(getattr(field, "format", api_settings.DATETIME_FORMAT)).lower() == ISO_8601
        if value is None or zone is None or not iso or not timezone.is_aware(value):
            return self._value(name, value)  # what DRF does with those
        try:
            text = value.astimezone(zone).isoformat()
        except OverflowError:
            return self._value(name, value)  # DRF's error
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    @classmethod
    def _value(cls, name: str, value: Any) -> Any:
        """A plain field's value as DRF gives it: None stays None, else the field converts it
        (the declared fields convert without being bound to a serializer)."""
        return None if value is None else cls._declared_fields[name].to_representation(value)

    def _absolute(self, name: str, job: Job) -> str:
        # A list's serializer serves every job of one request: each kind of address is made
        # once (reverse, then made absolute) and only the job's id changes (colorize.links).
        makers = self.__dict__.setdefault("_address_makers", {})
        if name not in makers:
            request = self.context.get("request")
            finish = request.build_absolute_uri if request else self._on_site
            makers[name] = address_maker(name, finish)
        return makers[name](job.id)

    @staticmethod
    def _on_site(path: str) -> str:
        return settings.COLORIA_SITE_URL + path

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, job: Job) -> str:
        return self._absolute("api:job-detail", job)

    @extend_schema_field(OpenApiTypes.URI)
    def get_web_url(self, job: Job) -> str:
        return self._absolute("colorize:job", job)

    def get_model_name(self, job: Job) -> str:
        return model_pages.job_label(job)

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_details(self, job: Job) -> dict:
        result = job.result if job.has_result else None
        return result.details if result is not None else {}

    @extend_schema_field(OpenApiTypes.URI)
    def get_original_url(self, job: Job) -> str:
        return self._absolute("api:job-original", job)

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_result_url(self, job: Job) -> str | None:
        if job.status != Job.Status.SUCCEEDED:
            return None
        return self._absolute("api:job-result", job)

    @extend_schema_field(ProgressSerializer(allow_null=True))
    def get_progress(self, job: Job) -> dict | None:
        if not job.is_video:
            return None
        total = job.progress_total or job.upload.frames
        return {"done": job.progress_done, "total": total, "seconds_left": job.progress_eta}

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_video_url(self, job: Job) -> str | None:
        return self._absolute("api:job-result", job) if job.is_video and job.has_result else None

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_poster_url(self, job: Job) -> str | None:
        return self._absolute("api:job-poster", job) if job.is_video and job.has_result else None


class SubmissionSerializer(serializers.Serializer):
    """The answer to a submit: the batch and its jobs (one per image, or one per model)."""

    batch = serializers.UUIDField()
    jobs = JobSerializer(many=True)


class JobFilterSerializer(serializers.Serializer):
    model = serializers.CharField(required=False, help_text="Only jobs of this model key.")
    status = serializers.ChoiceField(choices=Job.Status.choices, required=False)


class JobSubmitBase(serializers.Serializer):
    images = serializers.ListField(
        # Empty files pass here so that the service refuses them with its own message.
        child=serializers.FileField(allow_empty_file=True, use_url=False),
        min_length=1,
        error_messages={"min_length": "Choose at least one image."},
        help_text="1 to COLORIA_MAX_BATCH (5) images: JPEG, PNG, WebP, BMP or TIFF; or one "
        "film (MP4, MOV, WebM, AVI or MKV, by default up to 60 s, 1080p and 200 MB) for a model "
        "fit for film (`GET /models`: `video`).",
    )
    model = serializers.CharField(
        max_length=64,
        help_text="A key from `GET /models`, or `all` (every installed model, one image only).",
    )
    callback_url = serializers.URLField(
        required=False,
        max_length=500,
        help_text="Optional: an https URL that receives the job's JSON (a signed POST) when "
        "it ends.",
    )
    reference = serializers.FileField(
        required=False,
        allow_empty_file=True,
        use_url=False,
        help_text="For `model=reference` (required there, refused elsewhere): a colour photo of "
        "the same kind of scene whose colours to borrow. Checked like the images; a copy without "
        "metadata, at most 1 megapixel, is kept with each photo and deleted with it.",
    )


class CallbackSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="The HMAC-SHA256 key of the caller's callbacks.")
    signature_header = serializers.CharField(
        help_text="The header carrying `sha256=<hex HMAC of the raw request body>`."
    )


class ShareLinkSerializer(serializers.Serializer):
    share_url = serializers.URLField(
        allow_null=True,
        help_text="The job's unlisted share link: a web page anyone who has it may open, without "
        "an account, showing the original (without its metadata) and the result. Null once "
        "revoked.",
    )


def _parameter_fields() -> dict[str, Any]:
    """One optional field per model parameter in the registry, so that the schema lists them.
    Which parameters the chosen model takes is the service's check (others are refused)."""
    takers: dict[str, list[str]] = {}
    described: dict[str, Any] = {}
    for spec in ml.list_models():
        for param in spec.params:
            if param.internal:
                continue
            takers.setdefault(param.name, []).append(spec.key)
            described.setdefault(param.name, param)
    return {
        name: serializers.CharField(
            required=False,
            allow_blank=True,
            help_text=f"{param.label} ({param.kind}). {param.help} "
            f"Taken by: {', '.join(takers[name])}; see `GET /models` for ranges and defaults.",
        )
        for name, param in described.items()
    }


JobSubmitSerializer = type("JobSubmitSerializer", (JobSubmitBase,), _parameter_fields())
