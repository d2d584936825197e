"""Settings built from given values only, for tests that check files against the settings."""

from __future__ import annotations

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from ticketstream.settings import Settings


class ExactSettings(Settings):
    """Settings from the given values only: the test's own environment must not leak in."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the values passed in."""
        return (init_settings,)
