# provenance: square/certigo Dockerfile (FROM python and FROM alpine with no tag)
FROM golang:alpine AS builder
COPY . /src
WORKDIR /src
RUN go build -mod=vendor -o /bin/certigo
FROM python
RUN pip install cram
COPY --from=builder /bin/certigo /bin/certigo
FROM alpine
RUN apk update && apk add ca-certificates && rm -rf /var/cache/apk/*
COPY --from=builder /bin/certigo /bin/certigo
ENTRYPOINT ["/bin/certigo"]
