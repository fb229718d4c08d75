"""The GRACE/GRACE-FO month list of the synthetic world (2002-04 .. 2023-08, 223 months).

The list of solution spans is *metadata*, hard-coded from the file names of the CSR RL06 GSM mirror
(``grace/csr_rl06/GSM-2_YYYYDOY-YYYYDOY_{GRAC,GRFO}_UTCSR_BB01_060{0,2}.gz``, files starting before
2023-09): the synthetic world has exactly the real gaps (2002-06/07, 2003-06, the battery-management
months, the 2017-07 .. 2018-05 GRACE/GRACE-FO gap). Written by hand because nothing else knows it.
The nominal month label is the calendar month of the span's mid-point (mid-epoch, METHODS.md §2.3).
"""

from __future__ import annotations

import datetime as _dt

import numpy as np
import pandas as pd

from ..stokes import unique_month_labels
from ..timeseries import decimal_year

# start DOY - end DOY - mission, from the mirror's file names (see module docstring)
_SPANS = """
    2002095-2002120-GRAC 2002123-2002137-GRAC 2002213-2002243-GRAC 2002244-2002273-GRAC 2002274-2002304-GRAC 
    2002305-2002334-GRAC 2002335-2002365-GRAC 2003001-2003031-GRAC 2003032-2003059-GRAC 2003060-2003090-GRAC 
    2003091-2003120-GRAC 2003121-2003141-GRAC 2003182-2003212-GRAC 2003213-2003243-GRAC 2003244-2003273-GRAC 
    2003274-2003304-GRAC 2003305-2003334-GRAC 2003335-2003365-GRAC 2004001-2004013-GRAC 2004035-2004060-GRAC 
    2004061-2004091-GRAC 2004092-2004121-GRAC 2004122-2004152-GRAC 2004153-2004182-GRAC 2004183-2004213-GRAC 
    2004214-2004244-GRAC 2004245-2004274-GRAC 2004275-2004305-GRAC 2004306-2004335-GRAC 2004336-2004366-GRAC 
    2005001-2005031-GRAC 2005032-2005059-GRAC 2005060-2005090-GRAC 2005091-2005120-GRAC 2005121-2005151-GRAC 
    2005152-2005181-GRAC 2005182-2005212-GRAC 2005213-2005243-GRAC 2005244-2005273-GRAC 2005274-2005304-GRAC 
    2005305-2005334-GRAC 2005335-2005365-GRAC 2006001-2006031-GRAC 2006032-2006059-GRAC 2006060-2006090-GRAC 
    2006091-2006120-GRAC 2006121-2006151-GRAC 2006152-2006181-GRAC 2006182-2006212-GRAC 2006213-2006243-GRAC 
    2006244-2006273-GRAC 2006274-2006304-GRAC 2006305-2006334-GRAC 2006335-2006365-GRAC 2007001-2007031-GRAC 
    2007032-2007058-GRAC 2007060-2007090-GRAC 2007091-2007120-GRAC 2007121-2007151-GRAC 2007152-2007181-GRAC 
    2007182-2007212-GRAC 2007213-2007243-GRAC 2007244-2007273-GRAC 2007274-2007304-GRAC 2007305-2007334-GRAC 
    2007335-2007365-GRAC 2008001-2008031-GRAC 2008032-2008060-GRAC 2008061-2008091-GRAC 2008092-2008121-GRAC 
    2008122-2008152-GRAC 2008153-2008182-GRAC 2008183-2008213-GRAC 2008214-2008244-GRAC 2008245-2008274-GRAC 
    2008275-2008305-GRAC 2008306-2008335-GRAC 2008336-2008366-GRAC 2009001-2009031-GRAC 2009032-2009059-GRAC 
    2009060-2009090-GRAC 2009091-2009120-GRAC 2009121-2009151-GRAC 2009152-2009181-GRAC 2009182-2009212-GRAC 
    2009213-2009243-GRAC 2009244-2009273-GRAC 2009274-2009304-GRAC 2009305-2009334-GRAC 2009335-2009365-GRAC 
    2010001-2010031-GRAC 2010032-2010059-GRAC 2010060-2010090-GRAC 2010091-2010120-GRAC 2010121-2010151-GRAC 
    2010152-2010181-GRAC 2010182-2010212-GRAC 2010213-2010243-GRAC 2010244-2010273-GRAC 2010274-2010304-GRAC 
    2010305-2010334-GRAC 2010335-2010361-GRAC 2011039-2011059-GRAC 2011060-2011090-GRAC 2011091-2011120-GRAC 
    2011121-2011151-GRAC 2011186-2011212-GRAC 2011213-2011243-GRAC 2011244-2011273-GRAC 2011274-2011304-GRAC 
    2011289-2011319-GRAC 2011347-2012011-GRAC 2012001-2012031-GRAC 2012032-2012060-GRAC 2012080-2012109-GRAC 
    2012153-2012182-GRAC 2012183-2012213-GRAC 2012214-2012244-GRAC 2012245-2012269-GRAC 2012311-2012335-GRAC 
    2012336-2012366-GRAC 2013001-2013031-GRAC 2013032-2013057-GRAC 2013101-2013120-GRAC 2013121-2013151-GRAC 
    2013152-2013181-GRAC 2013182-2013212-GRAC 2013274-2013304-GRAC 2013305-2013334-GRAC 2013335-2013365-GRAC 
    2014001-2014016-GRAC 2014062-2014090-GRAC 2014091-2014120-GRAC 2014121-2014151-GRAC 2014152-2014175-GRAC 
    2014213-2014243-GRAC 2014244-2014273-GRAC 2014274-2014304-GRAC 2014305-2014334-GRAC 2015013-2015031-GRAC 
    2015032-2015059-GRAC 2015060-2015090-GRAC 2015091-2015120-GRAC 2015102-2015131-GRAC 2015180-2015212-GRAC 
    2015213-2015243-GRAC 2015244-2015270-GRAC 2015345-2016003-GRAC 2016004-2016028-GRAC 2016029-2016060-GRAC 
    2016061-2016091-GRAC 2016129-2016152-GRAC 2016153-2016182-GRAC 2016183-2016211-GRAC 2016221-2016247-GRAC 
    2016319-2016345-GRAC 2016346-2017006-GRAC 2017007-2017034-GRAC 2017076-2017104-GRAC 2017100-2017128-GRAC 
    2017123-2017142-GRAC 2017143-2017179-GRAC 2018152-2018181-GRFO 2018182-2018199-GRFO 2018295-2018313-GRFO 
    2018305-2018334-GRFO 2018335-2018365-GRFO 2019001-2019031-GRFO 2019026-2019066-GRFO 2019060-2019090-GRFO 
    2019091-2019120-GRFO 2019121-2019151-GRFO 2019152-2019181-GRFO 2019182-2019212-GRFO 2019213-2019243-GRFO 
    2019244-2019273-GRFO 2019274-2019304-GRFO 2019305-2019334-GRFO 2019335-2019365-GRFO 2020001-2020031-GRFO 
    2020032-2020060-GRFO 2020061-2020091-GRFO 2020092-2020121-GRFO 2020122-2020152-GRFO 2020153-2020182-GRFO 
    2020183-2020213-GRFO 2020214-2020244-GRFO 2020245-2020274-GRFO 2020275-2020305-GRFO 2020306-2020335-GRFO 
    2020336-2020366-GRFO 2021001-2021031-GRFO 2021032-2021059-GRFO 2021060-2021090-GRFO 2021091-2021120-GRFO 
    2021121-2021151-GRFO 2021152-2021181-GRFO 2021182-2021212-GRFO 2021213-2021243-GRFO 2021244-2021273-GRFO 
    2021274-2021304-GRFO 2021305-2021334-GRFO 2021335-2021365-GRFO 2022001-2022031-GRFO 2022032-2022059-GRFO 
    2022060-2022090-GRFO 2022091-2022120-GRFO 2022121-2022151-GRFO 2022152-2022181-GRFO 2022182-2022212-GRFO 
    2022213-2022243-GRFO 2022244-2022273-GRFO 2022274-2022304-GRFO 2022305-2022334-GRFO 2022335-2022365-GRFO 
    2023001-2023031-GRFO 2023032-2023059-GRFO 2023060-2023090-GRFO 2023091-2023120-GRFO 2023121-2023151-GRFO 
    2023152-2023181-GRFO 2023182-2023212-GRFO 2023213-2023243-GRFO """


def _doy_to_date(code: str) -> _dt.date:
    return _dt.date(int(code[:4]), 1, 1) + _dt.timedelta(days=int(code[4:]) - 1)


def grace_months(months=None) -> pd.DataFrame:
    """The solution spans of the synthetic world, one row per GSM file.

    Parameters
    ----------
    months : None, int, or sequence of str
        None: all 223 months. An int k: every k-th month (reduced mode for tests). A sequence of
        ``"YYYY-MM"`` labels: those months.

    Returns
    -------
    pandas.DataFrame
        Columns ``start``, ``end`` (dates, inclusive first and last day), ``start_doy``, ``end_doy``
        (``"YYYYDOY"`` strings of the file name), ``mission`` (``"GRACE"``/``"GRACE-FO"``), ``tag``
        (``GRAC``/``GRFO``), ``release`` (``0600``/``0602``), ``time`` (mid-epoch, datetime64),
        ``decimal_year`` (of the mid-epoch) and ``month`` (``"YYYY-MM"`` label of the mid-point).
    """
    rows = []
    for token in _SPANS.split():
        s, e, tag = token.split("-")
        start, end = _doy_to_date(s), _doy_to_date(e)
        t0 = np.datetime64(start, "s")
        t1 = np.datetime64(end, "s") + np.timedelta64(86400, "s")  # end of the last day
        mid = t0 + (t1 - t0) // 2
        rows.append(dict(start=start, end=end, start_doy=s, end_doy=e, tag=tag,
                         mission="GRACE" if tag == "GRAC" else "GRACE-FO",
                         release="0600" if tag == "GRAC" else "0602", time=mid))
    df = pd.DataFrame(rows)
    df["time"] = pd.to_datetime(df["time"])
    df["decimal_year"] = decimal_year(df["time"].values)
    t0 = pd.to_datetime(df["start"]).values
    t1 = pd.to_datetime(df["end"]).values + np.timedelta64(1, "D")
    df["month"] = _labels(t0, t1, df["time"])
    if months is None:
        return df
    if isinstance(months, (int, np.integer)):
        return df.iloc[:: int(months)].reset_index(drop=True)
    wanted = list(months)
    missing = sorted(set(wanted) - set(df["month"]))
    if missing:
        raise ValueError(f"months not in the GRACE month list: {missing}")
    return df[df["month"].isin(wanted)].reset_index(drop=True)


def _labels(t0, t1, mid):
    """Unique GRACE month labels: the shared rule of :func:`hma_mascon.stokes.unique_month_labels`
    (collisions of the 2011-10/11 and 2015-04/05 special months resolved), else mid-point months."""
    return np.asarray(unique_month_labels(t0, t1), dtype=str)


def month_sequence(first: str, last: str) -> pd.DataFrame:
    """Calendar months ``first`` .. ``last`` (``"YYYY-MM"``) stamped at mid-month (the manifest's grid
    format): columns ``time`` (datetime64, middle of the month), ``decimal_year``, ``month``."""
    p = pd.period_range(first, last, freq="M")
    start = p.to_timestamp(how="start")
    end = (p + 1).to_timestamp(how="start")
    mid = start + (end - start) / 2
    return pd.DataFrame({"time": mid, "decimal_year": decimal_year(mid.values), "month": p.strftime("%Y-%m")})
