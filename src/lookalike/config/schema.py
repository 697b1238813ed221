"""The typed experiment settings: the one source of truth for YAML, CLI overrides, grid and UI.

Field names and value spellings are those of a configuration exported by H2O Hydrogen Torch, so its
files load unchanged; settings its export does not show are named in the same style (the snake_case
of the reference document's title). Each field carries its help text, its experience level and
whether it is a grid-search hyperparameter, read back through `field_info()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
)

Level = Literal["Beginner", "Expert", "Master"]
LEVELS: tuple[Level, ...] = ("Beginner", "Expert", "Master")


def setting(default: Any, help: str, level: Level = "Beginner", grid: bool = False, **kw: Any):
    """A field with the metadata the CLI, grid search and web form read."""
    return Field(default, description=help, json_schema_extra={"level": level, "grid": grid}, **kw)


# --- value types carrying Hydrogen Torch's quirks -------------------------------------------------


def _none_string(value: Any) -> Any:
    # Hydrogen Torch writes an empty path as the string "None".
    if value is None or (isinstance(value, str) and value.strip() in ("", "None")):
        return None
    return value


def _none_as_string(value: Any) -> Any:
    return "None" if value is None else value


OptionalPath = Annotated[
    str | None, BeforeValidator(_none_string), PlainSerializer(_none_as_string, return_type=str)
]


def _str_list(value: Any) -> Any:
    # Folds and GPUs are exported as lists of strings ('0'); a bare scalar is one element.
    if value is None:
        return []
    if isinstance(value, str | int) and not isinstance(value, bool):
        value = [value]
    return value


def _ints_as_strings(values: list[int]) -> list[str]:
    return [str(v) for v in values]


IntList = Annotated[
    list[Annotated[int, Field(ge=0)]],
    BeforeValidator(_str_list),
    PlainSerializer(_ints_as_strings, return_type=list[str]),
]


def _aliases(mapping: dict[str, str]):
    """Accept the reference's screen labels (any case) and store the exported spelling."""
    lowered = {k.lower(): v for k, v in mapping.items()}

    def convert(value: Any) -> Any:
        if isinstance(value, str):
            return lowered.get(value.strip().lower(), value)
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    return BeforeValidator(convert)


VALIDATION_STRATEGY_LABELS = {
    "K-fold cross validation": "kfold",
    "kfold": "kfold",
    "k-fold": "kfold",
    "Grouped k-fold cross validation": "grouped_kfold",
    "grouped_kfold": "grouped_kfold",
    "Custom holdout validation": "custom_holdout_validation",
    "custom_holdout_validation": "custom_holdout_validation",
    "Automatic holdout validation": "automatic_holdout_validation",
    "automatic_holdout_validation": "automatic_holdout_validation",
}
ValidationStrategy = Annotated[
    Literal["kfold", "grouped_kfold", "custom_holdout_validation", "automatic_holdout_validation"],
    _aliases(VALIDATION_STRATEGY_LABELS),
]

TTA_LABELS = {
    "Horizontal flip": "horizontal_flip",
    "horizontal_flip": "horizontal_flip",
    "Vertical flip": "vertical_flip",
    "vertical_flip": "vertical_flip",
}
TestTimeAugmentation = Annotated[Literal["horizontal_flip", "vertical_flip"], _aliases(TTA_LABELS)]

# The resize-only pipeline Hydrogen Torch exports by default; IMAGE_HEIGHT / IMAGE_WIDTH are
# replaced by the image size when the pipeline is built.
DEFAULT_CUSTOM_AUGMENTATIONS = (
    '{"__version__": "1.1.0", "transform": {"__class_fullname__": "Compose", "p": 1.0, '
    '"transforms": [{"__class_fullname__": "Resize", "always_apply": true, "p": 1, '
    '"height": IMAGE_HEIGHT, "width": IMAGE_WIDTH, "interpolation": 1}], '
    '"bbox_params": null, "keypoint_params": null, "additional_targets": {}}}'
)


class Section(BaseModel):
    """A group of settings; unknown keys are rejected (the loader names the closest valid one)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Dataset(Section):
    train_dataframe: OptionalPath = setting(
        None, "A .csv or .pq/.parquet file with one row per training image.", "Beginner"
    )
    data_folder: OptionalPath = setting(
        None,
        "Folder holding the images named in the image column (relative paths resolve from the "
        "directory lookalike is started in).",
        "Beginner",
    )
    validation_strategy: ValidationStrategy = setting(
        "kfold",
        "kfold: the train frame's `fold` column, else an automatic 5-fold split; grouped_kfold: "
        "5 folds keeping each group_fold_column value in one fold; custom_holdout_validation: the "
        "validation_dataframe; automatic_holdout_validation: a random validation_size share.",
        "Beginner",
    )
    validation_dataframe: OptionalPath = setting(
        None,
        "A .csv or .pq file of validation images; requires custom_holdout_validation.",
        "Beginner",
    )
    folds: IntList = setting(
        [0],
        "The validation fold(s) for cross-validation; one model is trained per selected fold.",
        "Beginner",
    )
    test_dataframe: OptionalPath = setting(
        None,
        "A .csv or .pq file of test images; test metrics are computed if it has labels.",
        "Beginner",
    )
    data_folder_test: OptionalPath = setting(
        None, "Folder with the test images (defaults to data_folder).", "Beginner"
    )
    label_columns: str = setting(
        "label",
        "Column whose value names what an image shows: rows with the same label are similar.",
        "Beginner",
    )
    image_column: str = setting(
        "image", "Column with the image file names, relative to the data folder.", "Beginner"
    )
    group_fold_column: str | None = setting(
        None,
        "Column whose values stay together in one fold for grouped_kfold (use the label column "
        "to validate on classes never seen in training).",
        "Expert",
    )
    validation_size: float = setting(
        0.2,
        "Share of the train rows held out for automatic_holdout_validation.",
        "Beginner",
        gt=0.0,
        lt=1.0,
    )
    data_sample: float = setting(
        1.0,
        "Share of the data to use (1 = all); applied to the frames named in data_sample_choice.",
        "Expert",
        gt=0.0,
        le=1.0,
    )
    data_sample_choice: list[Literal["Train", "Validation"]] = setting(
        ["Train", "Validation"], "Which data the data_sample share applies to.", "Expert"
    )

    @field_validator("label_columns", mode="before")
    @classmethod
    def _one_label_column(cls, value: Any) -> Any:
        # The export writes a plain string; a one-element list means the same.
        if isinstance(value, list) and len(value) == 1:
            return value[0]
        if isinstance(value, list):
            raise ValueError("metric learning takes exactly one label column")
        return value

    @field_validator("group_fold_column", mode="before")
    @classmethod
    def _none_group(cls, value: Any) -> Any:
        return _none_string(value)

    @field_validator("data_sample_choice", mode="before")
    @classmethod
    def _choice_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Image(Section):
    image_width: int = setting(512, "Width the images are resized to.", "Beginner", ge=8)
    image_height: int = setting(512, "Height the images are resized to.", "Beginner", ge=8)
    image_channels: int = setting(
        3,
        "Channels per image: 3 for RGB, 1 for grayscale, any number for .npy images.",
        "Beginner",
        ge=1,
    )
    image_normalization: Literal[
        "Channel", "Image", "ImageNet", "Inception", "Min_Max", "No", "Simple"
    ] = setting(
        "Simple",
        "Channel/Min_Max: per batch statistics; Image: per image; ImageNet/Inception/Simple: /255 "
        "and fixed constants; No: raw values.",
        "Expert",
        grid=True,
    )


class Augmentation(Section):
    augmentations_strategy: Literal["Soft", "Medium", "Hard", "Custom"] = setting(
        "Soft",
        "Soft: resize + horizontal flip; Medium: + shift/scale/rotate and coarse dropout; Hard: "
        "random resized crop + brightness/contrast; Custom: the pipelines below.",
        "Beginner",
        grid=True,
    )
    custom_train_augmentations: str = setting(
        DEFAULT_CUSTOM_AUGMENTATIONS,
        "Albumentations pipeline (serialized JSON) for training when the strategy is Custom; "
        "IMAGE_HEIGHT and IMAGE_WIDTH stand for the image size.",
        "Master",
    )
    custom_inference_augmentations: str = setting(
        DEFAULT_CUSTOM_AUGMENTATIONS,
        "Albumentations pipeline (serialized JSON) for validation, test and prediction when the "
        "strategy is Custom.",
        "Master",
    )


class Architecture(Section):
    backbone: str = setting(
        "tf_efficientnet_b0_ns",
        "Any timm model name used as the feature extractor.",
        "Beginner",
        grid=True,
    )
    pretrained: bool = setting(
        True, "Start from pretrained weights (else random weights).", "Beginner", grid=True
    )
    pretrained_weights: OptionalPath = setting(
        None,
        "Local .safetensors/.pth file with the backbone's pretrained weights (offline use); "
        "when None, weights come from the Hugging Face cache or hub.",
        "Expert",
    )
    embedding_size: int = setting(
        512,
        "Width of the embedding vector that represents an image.",
        "Beginner",
        grid=True,
        ge=2,
    )
    pool: Literal["Average", "CatAverageMax", "GeM", "Max", "MeanAverageMax"] = setting(
        "Average", "How the backbone's feature map becomes one vector.", "Expert", grid=True
    )
    dropout: float = setting(
        0.0,
        "Dropout rate between the backbone and the neck during training.",
        "Expert",
        grid=True,
        ge=0.0,
        lt=1.0,
    )


class Training(Section):
    loss_function: Literal["ArcFace"] = setting(
        "ArcFace", "Loss that shapes the embedding space.", "Expert", grid=True
    )
    arcface_margin: float = setting(
        0.1,
        "ArcFace angular margin: higher separates classes more.",
        "Expert",
        grid=True,
        ge=0.0,
        lt=3.14159,
    )
    arcface_scale: float = setting(
        45.0, "ArcFace scale applied to the cosine logits.", "Expert", grid=True, gt=0.0
    )
    optimizer: Literal["Adadelta", "Adam", "AdamW", "RMSprop", "SGD"] = setting(
        "AdamW", "Algorithm that updates the weights.", "Expert", grid=True
    )
    learning_rate: float = setting(
        0.001,
        "Learning rate of the layers without a differential rate.",
        "Beginner",
        grid=True,
        gt=0.0,
    )
    differential_learning_rate_layers: list[Literal["Backbone", "Neck", "Loss"]] = setting(
        [], "Parts of the model trained with differential_learning_rate instead.", "Expert"
    )
    differential_learning_rate: float = setting(
        0.001,
        "Learning rate of the differential_learning_rate_layers.",
        "Expert",
        gt=0.0,
    )
    batch_size: int = setting(16, "Images per mini-batch (per GPU).", "Beginner", grid=True, ge=1)
    automatically_adjust_batch_size: bool = setting(
        False,
        "On an out-of-memory error halve the batch size until it fits (or reaches 1).",
        "Expert",
    )
    drop_last_batch: bool = setting(
        True, "Drop the last incomplete training batch of each epoch.", "Expert"
    )
    epochs: int = setting(5, "Passes over the training data.", "Beginner", grid=True, ge=0)
    schedule: Literal["Constant", "Cosine", "Linear"] = setting(
        "Cosine", "How the learning rate changes over the training steps.", "Expert", grid=True
    )
    warmup_epochs: float = setting(
        0.0,
        "Epochs (fractions allowed) over which the learning rate rises linearly from 0.",
        "Expert",
        grid=True,
        ge=0.0,
    )
    weight_decay: float = setting(
        0.0, "Weight decay of the optimizer.", "Expert", grid=True, ge=0.0
    )
    gradient_clip: float = setting(
        0.0, "Maximum gradient norm (0 = no clipping).", "Expert", grid=True, ge=0.0
    )
    grad_accumulation: int = setting(
        1,
        "Batches whose gradients are summed before each weight update.",
        "Expert",
        grid=True,
        ge=1,
    )
    save_best_checkpoint: bool = setting(
        False,
        "Keep the weights of the epoch with the best validation metric (else the last).",
        "Expert",
    )
    evaluation_epochs: float = setting(
        1.0, "Epochs between validation runs (fractions allowed).", "Expert", gt=0.0
    )
    evaluate_before_training: bool = setting(
        False, "Run a validation pass before the first training step.", "Expert"
    )
    calculate_train_metric: bool = setting(
        False, "Also compute the retrieval metric on the training data at the end.", "Expert"
    )
    train_validation_data: bool = setting(
        False,
        "Train on the train and validation data together (validation is still reported).",
        "Expert",
    )
    build_scoring_pipelines: bool = setting(
        True,
        "Build a deployable scoring bundle at the end of the run (with the predict-and-deploy "
        "release; checkpoint.safetensors and cfg.yaml are always written).",
        "Expert",
    )


class Prediction(Section):
    metric: Literal["mAP"] = setting(
        "mAP", "Validation metric: mean average precision at top_k_similar.", "Beginner"
    )
    top_k_similar: int = setting(
        50, "How many most similar images are kept per image (and K of mAP@K).", "Beginner", ge=1
    )
    test_time_augmentations: list[TestTimeAugmentation] = setting(
        [], "Flips whose embeddings are averaged with the original at inference.", "Expert"
    )


class Environment(Section):
    gpus: IntList = setting(
        [0], "GPU ids to use; empty (or no GPU present) trains on the CPU.", "Beginner"
    )
    number_of_gpus_per_run: int = setting(1, "GPUs used by one run.", "Expert", ge=1)
    mixed_precision_training: bool = setting(
        True, "Train under bf16/fp16 autocast where the device supports it.", "Expert"
    )
    mixed_precision_inference: bool = setting(
        False,
        "Compute embeddings under bf16/fp16 autocast where the device supports it.",
        "Expert",
    )
    sync_batch_normalization: bool = setting(
        False, "Synchronise batch normalisation across GPUs in multi-GPU runs.", "Master"
    )
    number_of_workers: int = setting(4, "Processes that load and augment images.", "Expert", ge=0)
    seed: int = setting(
        -1,
        "Random seed; -1 draws one (the seed used is logged and saved).",
        "Expert",
        ge=-1,
        le=2**32 - 1,
    )
    number_of_seeds_per_run: int = setting(
        1, "How many times each run is repeated with different seeds.", "Master", ge=1
    )


class Logging(Section):
    logger: Literal["None", "Neptune"] = setting(
        "None",
        "External experiment tracker (logs.log and charts.json are always written).",
        "Expert",
    )
    neptune_project: str = setting("", "Neptune project (workspace/project).", "Expert")
    neptune_api_token: str = setting("", "Neptune API token.", "Expert")
    log_grad_norm: bool = setting(
        False, "Log the total gradient norm before and after clipping.", "Master"
    )
    number_of_images: int = setting(
        8, "Images shown per insight (query/result grids).", "Expert", ge=1
    )


SECTIONS: dict[str, type[Section]] = {
    "dataset": Dataset,
    "image": Image,
    "augmentation": Augmentation,
    "architecture": Architecture,
    "training": Training,
    "prediction": Prediction,
    "environment": Environment,
    "logging": Logging,
}


class Config(BaseModel):
    """A whole experiment; defaults < YAML < command-line overrides."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    experiment_name: str = setting("experiment", "Name of the experiment folder.", "Beginner")
    output_directory: str = setting(
        "output", "Folder under which each experiment gets its own folder.", "Beginner"
    )
    dataset: Dataset = Field(default_factory=Dataset)
    image: Image = Field(default_factory=Image)
    augmentation: Augmentation = Field(default_factory=Augmentation)
    architecture: Architecture = Field(default_factory=Architecture)
    training: Training = Field(default_factory=Training)
    prediction: Prediction = Field(default_factory=Prediction)
    environment: Environment = Field(default_factory=Environment)
    logging: Logging = Field(default_factory=Logging)

    @field_validator("experiment_name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not value.strip() or "/" in value or "\\" in value or value in (".", ".."):
            raise ValueError("must be a non-empty folder name without '/' or '\\'")
        return value


@dataclass(frozen=True)
class FieldInfo:
    """What the CLI, the grid search and the web form need to know about one setting."""

    path: str  # "section.name", or "name" for top-level settings
    annotation: Any
    default: Any
    help: str
    level: Level
    grid: bool

    @property
    def choices(self) -> tuple[Any, ...]:
        """The allowed values of an enumeration (or of a list's items), else ()."""
        return _literal_values(self.annotation)


def _literal_values(annotation: Any) -> tuple[Any, ...]:
    if get_origin(annotation) is Literal:
        return get_args(annotation)
    for arg in get_args(annotation):  # Annotated[...], list[...], X | None
        values = _literal_values(arg)
        if values:
            return values
    return ()


def field_info() -> list[FieldInfo]:
    """Every setting of the schema, in declaration order."""
    infos = []
    for name, f in Config.model_fields.items():
        if name in SECTIONS:
            continue
        infos.append(_info(name, f))
    for section, model in SECTIONS.items():
        for name, f in model.model_fields.items():
            infos.append(_info(f"{section}.{name}", f))
    return infos


def _info(path: str, f: Any) -> FieldInfo:
    extra = f.json_schema_extra or {}
    return FieldInfo(
        path=path,
        annotation=f.annotation,
        default=f.get_default(call_default_factory=True),
        help=f.description or "",
        level=extra.get("level", "Beginner"),
        grid=bool(extra.get("grid", False)),
    )
