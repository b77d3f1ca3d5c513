"""The real-data loaders of rnncourse.data work offline and give the documented shapes.

Every test runs with the network unreachable: the ``offline`` fixture makes every socket
connection raise. The loaders of the time series need the optional extra
``rnncourse[data]`` (installed by requirements/dev.txt); without it they are skipped with
the reason. Warnings are errors here: a loader must not print one in a chapter.
"""
import hashlib
import socket
import sys

import numpy as np
import pytest

from rnncourse import data

pytestmark = pytest.mark.filterwarnings("error")


class NetworkUnreachable(OSError):
    pass


def _refuse(*args, **kwargs):
    raise NetworkUnreachable("network access attempted in an offline test")


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Make every connection attempt raise, so a loader that downloads fails."""
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse)
    monkeypatch.setattr(socket, "create_connection", _refuse)


def test_the_network_is_really_unreachable():
    with pytest.raises(NetworkUnreachable):
        socket.create_connection(("127.0.0.1", 9))
    with socket.socket() as sock, pytest.raises(NetworkUnreachable):
        sock.connect(("127.0.0.1", 9))


def test_shakespeare_is_the_shipped_file():
    text = data.load_shakespeare()
    assert isinstance(text, str) and len(text) == 1_115_394 and len(set(text)) == 65
    assert text.startswith("First Citizen:\nBefore we proceed any further, hear me speak.")
    assert text.count("\n") == 40_000
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert digest == "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"  # datasets/README.md


def test_sentiment_sentences_rows_labels_and_sources():
    sentences, labels, sources = data.load_sentiment_sentences()
    assert len(sentences) == len(sources) == 3000
    assert labels.shape == (3000,) and labels.dtype == np.int64 and set(labels.tolist()) == {0, 1}
    assert sources == ["amazon"] * 1000 + ["imdb"] * 1000 + ["yelp"] * 1000
    for source in ("amazon", "imdb", "yelp"):
        of_source = labels[np.array(sources) == source]
        assert of_source.sum() == 500  # the dataset's readme: 500 positive and 500 negative per site
    assert all(s == s.strip() and s for s in sentences)
    assert all(data.tokenize_words(s) for s in sentences)
    assert "\t" not in "".join(sentences) and "\n" not in "".join(sentences)
    assert sentences[0] == "So there is no way for me to plug it in here in the US unless I go by a converter."
    assert labels[0] == 0 and sentences[-1].endswith("bring the check.") and labels[-1] == 0


def test_sentiment_parser_names_file_and_line_of_a_bad_row(monkeypatch):
    rows = {"amazon_cells_labelled.txt.gz": "good phone\t1\nbad phone\t2\n"}
    monkeypatch.setattr(data, "_read_shipped_text", lambda name: rows.get(name, "fine\t0\n"))
    with pytest.raises(ValueError, match=r"amazon_cells_labelled.txt.gz line 2: expected 'sentence<TAB>0 or 1'"):
        data.load_sentiment_sentences()


@pytest.mark.parametrize("ticker, T, first", [
    ("AAPL", 3270, "2000-03-01"), ("IBM", 3270, "2000-03-01"), ("MSFT", 3270, "2000-03-01"),
    ("GOOG", 2148, "2004-08-19"), ("FB", 196, "2012-05-18"),
])
def test_daily_stock(ticker, T, first):
    pytest.importorskip("bokeh_sampledata", reason="optional extra rnncourse[data] not installed")
    series = data.load_daily_stock(ticker)
    assert set(series) == {"date", "open", "high", "low", "close", "adj_close", "volume"}
    assert series["date"].shape == (T,) and series["date"].dtype == np.dtype("datetime64[D]")
    assert series["date"][0] == np.datetime64(first) and series["date"][-1] == np.datetime64("2013-03-01")
    assert np.all(np.diff(series["date"]) > np.timedelta64(0, "D"))
    for name in ("open", "high", "low", "close", "adj_close", "volume"):
        assert series[name].shape == (T,) and series[name].dtype == np.float64
        assert np.all(np.isfinite(series[name])) and np.all(series[name] >= 0)
    assert np.all(series["high"] >= series["low"])


def test_daily_stock_names_the_allowed_tickers():
    with pytest.raises(ValueError, match="ticker must be one of AAPL, FB, GOOG, IBM, MSFT, got 'AMZN'"):
        data.load_daily_stock("AMZN")


def test_monthly_stocks():
    pytest.importorskip("vega_datasets", reason="optional extra rnncourse[data] not installed")
    stocks = data.load_monthly_stocks()
    assert sorted(stocks) == ["AAPL", "AMZN", "GOOG", "IBM", "MSFT"]
    for ticker, (dates, prices) in stocks.items():
        T = 68 if ticker == "GOOG" else 123
        assert dates.shape == prices.shape == (T,), ticker
        assert dates.dtype == np.dtype("datetime64[D]") and prices.dtype == np.float64
        assert dates[-1] == np.datetime64("2010-03-01") and np.all(np.diff(dates) > np.timedelta64(0, "D"))
        assert np.all(prices > 0)


def test_seattle_weather():
    pytest.importorskip("vega_datasets", reason="optional extra rnncourse[data] not installed")
    weather = data.load_seattle_weather()
    assert weather["date"].shape == (1461,) and weather["date"].dtype == np.dtype("datetime64[D]")
    assert np.all(np.diff(weather["date"]) == np.timedelta64(1, "D"))
    for name in ("precipitation", "temp_max", "temp_min", "wind"):
        assert weather[name].shape == (1461,) and weather[name].dtype == np.float64
        assert np.all(np.isfinite(weather[name]))
    assert np.all(weather["temp_max"] >= weather["temp_min"])
    assert weather["weather"].shape == (1461,)
    assert set(weather["weather"].tolist()) == {"drizzle", "fog", "rain", "snow", "sun"}


def test_co2_monthly():
    pytest.importorskip("statsmodels", reason="optional extra rnncourse[data] not installed")
    dates, ppm = data.load_co2()
    assert dates.shape == ppm.shape == (526,)
    assert dates.dtype == np.dtype("datetime64[D]") and ppm.dtype == np.float64
    assert dates[0] == np.datetime64("1958-03-01") and dates[-1] == np.datetime64("2001-12-01")
    assert np.all(np.isfinite(ppm)) and 310 < ppm.min() < ppm.max() < 380


@pytest.mark.parametrize("loader, T, first, last", [
    ("load_sunspots", 309, 1700, 2008), ("load_nile", 100, 1871, 1970),
])
def test_yearly_series(loader, T, first, last):
    pytest.importorskip("statsmodels", reason="optional extra rnncourse[data] not installed")
    years, values = getattr(data, loader)()
    assert years.shape == values.shape == (T,)
    assert years.dtype == np.int64 and values.dtype == np.float64
    np.testing.assert_array_equal(years, np.arange(first, last + 1))
    assert np.all(np.isfinite(values)) and np.all(values >= 0)


@pytest.mark.parametrize("loader, module", [
    ("load_daily_stock", "bokeh_sampledata.stocks"), ("load_monthly_stocks", "vega_datasets"),
    ("load_seattle_weather", "vega_datasets"), ("load_co2", "statsmodels.datasets"),
    ("load_sunspots", "statsmodels.datasets"), ("load_nile", "statsmodels.datasets"),
])
def test_missing_optional_package_says_how_to_install_it(monkeypatch, loader, module):
    monkeypatch.setitem(sys.modules, module, None)  # import of a None entry raises ImportError
    args = ("AAPL",) if loader == "load_daily_stock" else ()
    with pytest.raises(ImportError, match=r"pip install rnncourse\[data\]"):
        getattr(data, loader)(*args)
