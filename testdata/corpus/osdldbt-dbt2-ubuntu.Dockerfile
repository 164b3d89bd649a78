# Minimal from osdldbt/dbt2's Dockerfile (a search excerpt): the package list in an ENV, installed with apt-get
FROM ubuntu
# DDBMS=<drizzle|mysql|pgsql|sapdb>
ENV DDBMS=pgsql
ENV PACKAGES_DEPENDENCIES='build-essential cmake postgresql libpq-dev postgresql-server-dev-9.3'
RUN apt-get update && apt-get install -y $PACKAGES_DEPENDENCIES
RUN cmake -DDBMS=$DDBMS -DDESTDIR=/usr/local
