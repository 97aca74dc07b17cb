from pipeline.devtools.leaks import LeakScanner


def test_finds_values_across_formatting_and_case():
    scanner = LeakScanner(["(390) 996-0308", "Jason Miller", "Al"])
    assert scanner.size == 2  # "Al" is too short to scan without false alarms
    leaks = scanner.scan("call 390-996-0308 re: JASON miller", "out/1")
    assert {leak.value_index for leak in leaks} == {0, 1}
    assert all(leak.location == "out/1" for leak in leaks)


def test_whole_tokens_only():
    scanner = LeakScanner(["Lee", "Fox"])
    assert scanner.scan("asleep, Foxglove, Leeward", "x") == []
    assert len(scanner.scan("seen by Dr. Lee", "x")) == 1


def test_benign_vocabulary_is_excluded():
    scanner = LeakScanner(["Walker", "Smith"], benign="steady gait with walker")
    assert scanner.size == 1
    assert scanner.scan("gait with walker", "x") == []


def test_protected_blobs_and_lowercase_words_are_not_leaks():
    scanner = LeakScanner(["Fox", "Fields", "847-73-2029"])
    assert scanner.scan("enc:encryption-v1:AbCdEfGhIjKlMn-Fox-QrStUvWxYz0123456789", "x") == []
    assert scanner.scan("fields not in schema", "x") == []
    assert len(scanner.scan("Dr. Fields, Dr. FOX", "x")) == 2
    assert len(scanner.scan("ssn 847 73 2029", "x")) == 1
