from features.feedback import codes


def test_alphabet_is_unambiguous():
    assert not set("0O1IL") & set(codes.ALPHABET)


def test_new_codes_are_valid_distinct_and_round_trip():
    seen = {codes.new_code() for _ in range(5000)}
    assert len(seen) == 5000
    for code in list(seen)[:200]:
        assert len(code) == 8
        assert codes.normalize(code) == code
        shown = codes.display(code)
        assert shown[4] == "-"
        assert codes.normalize(shown.lower()) == code
        assert codes.normalize(f"  {shown[:4]} {shown[5:]} ") == code
        assert codes.normalize("PA-" + shown) == code


def test_check_character_catches_typos_and_swaps():
    code = codes.new_code()
    for i in range(8):
        for ch in codes.ALPHABET:
            if ch != code[i]:
                assert codes.normalize(code[:i] + ch + code[i + 1:]) is None
    for i in range(7):
        if code[i] != code[i + 1]:
            swapped = code[:i] + code[i + 1] + code[i] + code[i + 2:]
            assert codes.normalize(swapped) is None


def test_garbage_is_refused():
    for text in ("", "abc", "<script>", "OOOOOOOO", "12345678", "ABCDEFGHJ"):
        assert codes.normalize(text) is None
