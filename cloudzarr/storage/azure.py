"""The Azure Blob store: obstore's Azure client under cloudzarr's request layer.

=====================  =====================================================================
operation              requests (names as counted in ``store.requests``)
=====================  =====================================================================
get, range             1 ``GetBlob``
suffix range           1 ``GetBlobProperties`` (the size) + 1 ``GetBlob``: Azure Blob has no
                       suffix ranges, so ``supports_suffix_ranges`` is False
set                    1 ``PutBlob``
set_if_not_exists      1 ``PutBlob`` with ``If-None-Match: *`` (409/412 -> False)
get_with_version       1 ``GetBlob`` (the version is the response's ``ETag``)
set_if_version         1 ``PutBlob`` with ``If-Match: <ETag>`` (412 -> False)
exists, getsize        1 ``GetBlobProperties``
delete                 1 ``DeleteBlob``
list_dir               1 ``ListBlobs`` with ``delimiter=/`` per 5,000 children
list, list_prefix      1 ``ListBlobs`` per 5,000 keys
delete_dir             ``ListBlobs`` pages + 1 ``BlobBatch`` per 256 keys
=====================  =====================================================================

Retries, timeouts and counting are :mod:`cloudzarr.storage.transport`'s; conditional writes carry
a write token (blob metadata ``cloudzarrtoken``) read back after a resend (see
:mod:`cloudzarr.storage.cloud`).

``storage_options`` are adlfs's names: ``connection_string``, ``account_name``,
``account_key``, ``sas_token``, ``account_host``, ``anon``, ``credential`` (an account key or
an ``azure-identity`` credential object), ``client_id`` / ``client_secret`` / ``tenant_id``;
with none of them the environment is read as adlfs reads it (``AZURE_STORAGE_CONNECTION_STRING``,
``AZURE_STORAGE_ACCOUNT_NAME``, ``AZURE_STORAGE_ACCOUNT_KEY``, ``AZURE_STORAGE_SAS_TOKEN``...),
then obstore's own credential chain (managed identity, workload identity, Azure CLI).
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable
from typing import Any

from cloudzarr.errors import AccessDeniedError, InvalidArgumentError, StoreError
from cloudzarr.storage.base import ReadBuffer
from cloudzarr.storage.byte_range import ByteRequest, RangeByteRequest, SuffixByteRequest
from cloudzarr.storage.objstore import ObstoreStore, obstore_settings

#: Azure's limit on sub-requests in one blob batch.
BATCH_LIMIT = 256
_PAGE_SIZE = 5000

_AZURE_OPTIONS = frozenset(
    {"connection_string", "account_name", "account_key", "sas_token", "account_host", "anon",
     "client_id", "client_secret", "tenant_id", "credential"}
)  # fmt: skip


def parse_connection_string(text: str) -> dict[str, str]:
    """The fields of an Azure Storage connection string (``Name=value;...``)."""
    fields: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields[name.strip()] = value.strip()
    return fields


def _azure_config(options: dict[str, Any], where: str) -> dict[str, Any]:
    """obstore ``AzureStore`` configuration for adlfs-style ``options``."""
    env = os.environ
    config: dict[str, Any] = {}
    connection_string = options.get("connection_string") or env.get(
        "AZURE_STORAGE_CONNECTION_STRING"
    )
    account = options.get("account_name")
    key = options.get("account_key") or options.get("credential")
    sas = options.get("sas_token")
    host = options.get("account_host")
    if connection_string:
        fields = parse_connection_string(connection_string)
        if fields.get("UseDevelopmentStorage", "").lower() == "true":
            config["use_emulator"] = True
        account = account or fields.get("AccountName")
        key = key or fields.get("AccountKey")
        sas = sas or fields.get("SharedAccessSignature")
        host = host or fields.get("BlobEndpoint")
    account = account or env.get("AZURE_STORAGE_ACCOUNT_NAME")
    if not account and not config.get("use_emulator"):
        raise StoreError(
            "Azure storage_options need a connection_string or an account_name "
            "(or AZURE_STORAGE_CONNECTION_STRING / AZURE_STORAGE_ACCOUNT_NAME)"
        )
    if account:
        config["account_name"] = account
    if host:
        config["endpoint"] = host if "://" in host else f"https://{host}"
    if options.get("anon"):
        config["skip_signature"] = True
    elif key is not None and not isinstance(key, str):
        if not hasattr(key, "get_token"):
            raise InvalidArgumentError(
                "Azure storage option credential= must be an account key or an azure-identity "
                f"credential (with get_token), not {type(key).__name__}"
            )
        # Handed to obstore as its credential provider by the caller (see credential_provider).
    elif key is not None:
        try:
            base64.b64decode(key, validate=True)
        except (binascii.Error, ValueError):
            raise AccessDeniedError(
                f"access denied by Azure (AzureSigningError) for {where}: the account key is "
                "not base64"
            ) from None
        config["account_key"] = key
    elif sas or env.get("AZURE_STORAGE_SAS_TOKEN"):
        config["sas_key"] = (sas or env["AZURE_STORAGE_SAS_TOKEN"]).lstrip("?")
    for name in ("client_id", "client_secret", "tenant_id"):
        if options.get(name):
            config[name] = options[name]
    return config


def credential_provider(credential: Any) -> Any:
    """An obstore credential provider for an azure-identity ``credential`` object, else None."""
    if credential is None or isinstance(credential, str):
        return None
    import inspect

    from obstore.auth.azure import AzureAsyncCredentialProvider, AzureCredentialProvider

    if inspect.iscoroutinefunction(credential.get_token):
        return AzureAsyncCredentialProvider(credential)
    return AzureCredentialProvider(credential)


class AzureStore(ObstoreStore):
    """A store in an Azure Blob container.

    Parameters
    ----------
    container
        The container name.
    prefix
        The store's root inside the container (``""``: the container root).
    storage_options
        adlfs keyword arguments as users know them: ``connection_string``, ``account_name``,
        ``account_key``, ``sas_token``, ``anon``...
    read_only, concurrency, connect_timeout, request_timeout, hedge
        As for :class:`~cloudzarr.storage.cloud.CloudStore`; the concurrency defaults to
        ``CLOUDZARR_AZURE_CONCURRENCY``, then ``CLOUDZARR_CONCURRENCY``, then 32.

    Notes
    -----
    ``store.requests`` counts HTTP requests as ``GetBlob``, ``GetBlobProperties``,
    ``PutBlob``, ``DeleteBlob``, ``ListBlobs`` and ``BlobBatch``.
    """

    default_concurrency = 32
    concurrency_env = "CLOUDZARR_AZURE_CONCURRENCY"
    supports_suffix_ranges = False
    url_schemes = ("az", "abfs", "abfss")
    scheme = "az"
    cloud_name = "Azure"
    bucket_word = "container"
    option_names = _AZURE_OPTIONS
    page_size = _PAGE_SIZE
    names = {
        "get": "GetBlob",
        "head": "GetBlobProperties",
        "put": "PutBlob",
        "delete": "DeleteBlob",
        "bulk_delete": "BlobBatch",
        "list": "ListBlobs",
    }

    def __init__(
        self,
        container: str,
        prefix: str = "",
        *,
        storage_options: dict[str, Any] | None = None,
        read_only: bool = False,
        concurrency: int | None = None,
        connect_timeout: float | None = None,
        request_timeout: float | None = None,
        hedge: bool | None = None,
    ) -> None:
        super().__init__(
            container,
            prefix,
            storage_options=storage_options,
            read_only=read_only,
            concurrency=concurrency,
            connect_timeout=connect_timeout,
            request_timeout=request_timeout,
            hedge=hedge,
        )
        credential = self._options.get("credential")
        if not (
            credential is None or isinstance(credential, str) or hasattr(credential, "get_token")
        ):
            raise InvalidArgumentError(
                "Azure storage option credential= must be an account key or an azure-identity "
                f"credential (with get_token), not {type(credential).__name__}"
            )

    @classmethod
    def split_url(cls, url: str) -> tuple[str, str]:
        """Split ``az://container/prefix`` (or ``abfs://``) into ``(container, prefix)``.

        The ``abfs://container@account.dfs.core.windows.net/prefix`` form keeps the container.
        """
        container, prefix = super().split_url(url)
        container = container.split("@", 1)[0]
        if not container:
            raise StoreError(f"no container in Azure URL {url!r}")
        return container, prefix

    def _client_factory(self) -> Callable[[], Any]:
        container = self._bucket
        options = dict(self._options)
        settings = obstore_settings(self.timeouts)
        where = self.url

        def build() -> Any:
            from obstore.store import AzureStore as ObstoreAzureStore

            config = _azure_config(options, where)
            endpoint = str(config.get("endpoint", ""))
            settings["client_options"]["allow_http"] = endpoint.startswith("http://") or bool(
                config.get("use_emulator")
            )
            provider = credential_provider(options.get("credential"))
            if provider is not None:
                settings["credential_provider"] = provider
            return ObstoreAzureStore(container, config=config, **settings)  # type: ignore[arg-type]

        return build

    def _bucket_missing(self, text: str) -> bool:
        return "ContainerNotFound" in text

    def _map_error(self, exc: BaseException, key: str, operation: str) -> BaseException:
        error = super()._map_error(exc, key, operation)
        if isinstance(error, AccessDeniedError):
            reason = "AuthorizationFailure" if "AuthorizationFailure" in str(exc) else "HTTP 403"
            return AccessDeniedError(
                f"access denied by Azure ({reason}) for {operation} {self._where(key)}; "
                "check the credentials"
            )
        return error

    async def _get_buffer(self, key: str, byte_range: ByteRequest | None) -> ReadBuffer | None:
        if isinstance(byte_range, SuffixByteRequest) and byte_range.suffix > 0:
            # Azure Blob has no suffix ranges: the size first, then a plain range.
            head = await self._head(key)
            if head is None:
                return None
            size = int(head["size"])
            if size == 0:
                return b""
            byte_range = RangeByteRequest(max(0, size - byte_range.suffix), size)
        return await super()._get_buffer(key, byte_range)

    async def _delete_dir(self, prefix: str) -> None:
        async for keys, _ in self._object_pages(prefix, delimiter=False):
            names = [self._key(k) for k in keys]
            for i in range(0, len(names), BATCH_LIMIT):
                await self._delete_many(names[i : i + BATCH_LIMIT], prefix)
