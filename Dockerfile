# medtap sensor / server image.
#   docker build -t medtap .
#   Sensor on a SPAN port (host network, raw sockets):
#     docker run --rm --network host --cap-add NET_RAW --cap-add NET_ADMIN \
#       -v /var/lib/medtap:/data medtap capture --interface eth1 --db sqlite:////data/medtap.db
#   NET_RAW opens the AF_PACKET socket; NET_ADMIN sets promiscuous mode on the SPAN interface.
#   Central server: docker run -p 127.0.0.1:8000:8000 -e MEDTAP_DB_URL=postgresql+psycopg://... medtap serve --host 0.0.0.0
FROM python:3.11-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends libpcap0.8 tcpdump iproute2 libcap2-bin \
    libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/medtap
COPY pyproject.toml README.md ./
COPY collector ./collector
COPY analyzer ./analyzer
COPY store ./store
COPY api ./api
COPY rules ./rules
COPY pcaps ./pcaps
# A plain install: rules/ and the data tables are package data (collector.datafiles), found from any folder.
# [pdf]: WeasyPrint for the PDF perimeter review (it uses the Pango library installed above)
RUN pip install --no-cache-dir '.[pdf]' \
 && useradd --system --home /data --create-home medtap \
 && setcap cap_net_raw,cap_net_admin+eip "$(readlink -f /usr/local/bin/python3)"
# File capabilities let the non-root user open AF_PACKET sockets, but only when the container is
# started with --cap-add NET_RAW --cap-add NET_ADMIN (Docker drops them from the bounding set otherwise).

ENV MEDTAP_DB_URL=sqlite:////data/medtap.db
VOLUME /data
USER medtap
ENTRYPOINT ["medtap"]
CMD ["--help"]
