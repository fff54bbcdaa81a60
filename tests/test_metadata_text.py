"""Vietnamese text: stored NFC with diacritics intact, found without them."""
from __future__ import annotations

import unicodedata

import pytest

from repository.metadata import fold_for_search, normalise_text, search_text

HA_NOI_NFC = "Hà Nội"
HA_NOI_NFD = unicodedata.normalize("NFD", HA_NOI_NFC)


def test_decomposed_input_is_stored_precomposed_with_every_diacritic():
    assert HA_NOI_NFD != HA_NOI_NFC  # the test means something only if the bytes differ
    stored = normalise_text(HA_NOI_NFD)
    assert stored == HA_NOI_NFC
    assert stored.encode() == "Hà Nội".encode()
    assert normalise_text("Đại Nam thực lục") == "Đại Nam thực lục"


@pytest.mark.parametrize("query", ["ha noi", "HÀ NỘI", "Ha Noi", "hà nội", HA_NOI_NFD, "  ha   noi "])
def test_ha_noi_is_found_however_it_is_typed(query):
    assert fold_for_search(query) == fold_for_search(HA_NOI_NFC) == "ha noi"


def test_d_with_stroke_folds_to_d():
    assert fold_for_search("Đà Nẵng") == "da nang"
    assert fold_for_search("đường") == "duong"
    # Legacy fonts put the look-alike Icelandic eth where Đ belongs.
    assert fold_for_search("\u00d0à Nẵng") == "da nang"


def test_horn_and_breve_letters_lose_their_marks():
    assert fold_for_search("Thư viện Huế, Quảng Trị, ơn, ă") == "thu vien hue, quang tri, on, a"


def test_han_nom_text_is_kept_while_folding():
    assert fold_for_search("大南寔錄") == "大南寔錄"


def test_search_text_folds_every_value_of_a_record():
    record = {"title": [{"value": "Đại Nam thực lục", "lang": "vi"}, {"value": "大南寔錄", "lang": "vi-Hani"}],
              "creator": [{"value": "Quốc sử quán triều Nguyễn"}],
              "coverage": [{"value": HA_NOI_NFD}]}
    assert search_text(record) == "dai nam thuc luc 大南寔錄 quoc su quan trieu nguyen ha noi"
