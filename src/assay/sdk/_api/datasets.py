from __future__ import annotations

from assay.sdk._api._endpoint import API, endpoint
from assay.sdk.models import (
    AppendResult,
    AutotagCommitted,
    AutotagRefined,
    Dataset,
    DuplicateGroups,
    EmbeddingsWritten,
    Item,
    ItemsDeleted,
    Job,
    Matches,
    ObjectMatches,
    Page,
    QueryAnswer,
    TasksIngested,
)


class DatasetsAPI(API):
    create = endpoint("POST", "/datasets", returns=Dataset, create=True)
    list = endpoint("GET", "/datasets", returns=Page[Dataset])
    get = endpoint("GET", "/datasets/{dataset_id}", returns=Dataset)
    update = endpoint("PATCH", "/datasets/{dataset_id}", returns=Dataset)
    delete = endpoint("DELETE", "/datasets/{dataset_id}", returns=Job)
    import_file = endpoint("POST", "/datasets/{dataset_id}/imports", returns=Job, create=True)
    # Ingesting a task again updates its item: harmless to repeat.
    ingest_tasks = endpoint(
        "POST", "/datasets/{dataset_id}/tasks", returns=TasksIngested, retry=True
    )
    # An append again updates by reference id what the first wrote: harmless to repeat.
    append = endpoint("POST", "/datasets/{dataset_id}/items", returns=AppendResult, retry=True)
    items = endpoint("GET", "/datasets/{dataset_id}/items", returns=Page[Item])
    item = endpoint("GET", "/datasets/{dataset_id}/items/{item_id}", returns=Item)
    item_by_reference = endpoint(
        "GET", "/datasets/{dataset_id}/items-by-reference/{reference_id}", returns=Item
    )
    # Deleting what is gone deletes nothing more.
    delete_items = endpoint(
        "POST", "/datasets/{dataset_id}/items/delete", returns=ItemsDeleted, retry=True
    )
    # A read with a body (the query may be long): repeating it changes nothing.
    query = endpoint("POST", "/datasets/{dataset_id}/query", returns=QueryAnswer, retry=True)
    # Uploading the same vectors again writes the same rows.
    embeddings = endpoint(
        "POST", "/datasets/{dataset_id}/embeddings", returns=EmbeddingsWritten, retry=True
    )
    similar = endpoint("POST", "/datasets/{dataset_id}/similar", returns=Matches, retry=True)
    refine_autotag = endpoint("POST", "/datasets/{dataset_id}/autotags", returns=AutotagRefined)
    commit_autotag = endpoint(
        "POST", "/datasets/{dataset_id}/autotags/{name}/commit", returns=AutotagCommitted
    )
    find_duplicates = endpoint("POST", "/datasets/{dataset_id}/duplicates", returns=Job)
    duplicate_groups = endpoint("GET", "/datasets/{dataset_id}/duplicates", returns=DuplicateGroups)
    compute_uniqueness = endpoint("POST", "/datasets/{dataset_id}/uniqueness", returns=Job)
    # Uploading the same vectors again writes the same rows; a read with a body repeats too.
    object_embeddings = endpoint(
        "POST", "/datasets/{dataset_id}/object-embeddings", returns=EmbeddingsWritten, retry=True
    )
    compute_object_embeddings = endpoint(
        "POST", "/datasets/{dataset_id}/object-embeddings/compute", returns=Job
    )
    similar_objects = endpoint(
        "POST", "/datasets/{dataset_id}/similar-objects", returns=ObjectMatches, retry=True
    )
