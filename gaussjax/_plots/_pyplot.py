"""matplotlib, imported when a picture is drawn, or a clear error naming what to install."""


def pyplot(caller: str):
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            f'{caller} draws with matplotlib, which is not installed: pip install "gaussjax[plots]"'
        ) from error
    return plt
