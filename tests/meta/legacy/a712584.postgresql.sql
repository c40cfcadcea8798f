--
-- PostgreSQL database dump
--


-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: chunks; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.chunks (
    upload_id text NOT NULL,
    idx integer NOT NULL
);


--
-- Name: claims; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.claims (
    name text NOT NULL,
    upload_id text,
    holder text NOT NULL,
    instance text NOT NULL,
    expires_at double precision NOT NULL
);


--
-- Name: contents; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.contents (
    sha256 text NOT NULL,
    size bigint NOT NULL,
    refs integer NOT NULL,
    state text NOT NULL
);


--
-- Name: instances; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.instances (
    id text NOT NULL,
    host text NOT NULL,
    pid integer NOT NULL,
    seen_at double precision NOT NULL
);


--
-- Name: schema_migrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.schema_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    applied_at double precision NOT NULL
);


--
-- Name: uploads; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.uploads (
    id text NOT NULL,
    client_id text,
    owner text NOT NULL,
    filename text NOT NULL,
    content_type text NOT NULL,
    size bigint,
    chunk_size bigint,
    chunk_count integer,
    received integer DEFAULT 0 NOT NULL,
    state text NOT NULL,
    sha256 text,
    download_token text,
    storage_key text,
    error text,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL,
    protocol text DEFAULT 'dropzone'::text NOT NULL,
    stream_offset bigint DEFAULT 0 NOT NULL,
    metadata text,
    concat text,
    rewrites integer DEFAULT 0 NOT NULL,
    lifetime double precision,
    expires_at double precision,
    removed_at double precision,
    freed_bytes bigint,
    content text
);


--
-- Data for Name: chunks; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.chunks VALUES ('fc6547165ce9ab64585186bdbdb035d1', 0);
INSERT INTO public.chunks VALUES ('61cd17393e2135380b991efe388be346', 0);


--
-- Data for Name: claims; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: contents; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.contents VALUES ('12da9c5a18e26fd2b8e3948cf1052e69ae4157ae512319a85490a0433133cb61', 28000, 1, 'present');


--
-- Data for Name: instances; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: schema_migrations; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.schema_migrations VALUES (1, 'uploads', 1796225846.721735);
INSERT INTO public.schema_migrations VALUES (2, 'streams', 1796225846.7263408);
INSERT INTO public.schema_migrations VALUES (3, 'claims', 1796225846.732035);
INSERT INTO public.schema_migrations VALUES (4, 'expiry', 1796225846.7340465);
INSERT INTO public.schema_migrations VALUES (5, 'contents', 1796225846.7393014);


--
-- Data for Name: uploads; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.uploads VALUES ('040c47a7d1882154a83f7e077c11b52a', NULL, 'f51606d0231472f4937cc1f03b1109fa50212aa544016cbc20fbd21606f67fb3', 'done.bin', '', 28000, 8388608, 1, 0, 'complete', '12da9c5a18e26fd2b8e3948cf1052e69ae4157ae512319a85490a0433133cb61', 'tucWJmIbZKeqJTZR1GrTlH2tBJDj0qkb', '12/da/12da9c5a18e26fd2b8e3948cf1052e69ae4157ae512319a85490a0433133cb61', NULL, 1796225846.9227583, 1796225846.9430063, 'plain', 28000, NULL, NULL, 0, 86400, 1796312246.9429905, NULL, NULL, '12da9c5a18e26fd2b8e3948cf1052e69ae4157ae512319a85490a0433133cb61');
INSERT INTO public.uploads VALUES ('fc6547165ce9ab64585186bdbdb035d1', '00000000-0000-0000-0000-000000000001', 'f51606d0231472f4937cc1f03b1109fa50212aa544016cbc20fbd21606f67fb3', 'half.bin', '', 28000, 16384, 2, 1, 'receiving', NULL, NULL, NULL, NULL, 1796225846.9489474, 1796225846.9544806, 'dropzone', 0, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL);
INSERT INTO public.uploads VALUES ('13529d319f8c5d67e55d2379f06816b7', NULL, 'f51606d0231472f4937cc1f03b1109fa50212aa544016cbc20fbd21606f67fb3', 'tus.bin', '', 100, 8388608, 1, 0, 'receiving', NULL, NULL, NULL, NULL, 1796225846.9606595, 1796225846.9804003, 'tus', 8, 'filename dHVzLmJpbg==', NULL, 0, NULL, NULL, NULL, NULL, NULL);
INSERT INTO public.uploads VALUES ('61cd17393e2135380b991efe388be346', '00000000-0000-0000-0000-000000000002', 'f51606d0231472f4937cc1f03b1109fa50212aa544016cbc20fbd21606f67fb3', 'cancelled.bin', '', 28000, 16384, 2, 1, 'deleted', NULL, NULL, NULL, NULL, 1796225846.9871159, 1796225846.9952228, 'dropzone', 0, NULL, NULL, 0, NULL, NULL, 1796225846.9952116, 28000, NULL);


--
-- Name: chunks chunks_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.chunks
    ADD CONSTRAINT chunks_pkey PRIMARY KEY (upload_id, idx);


--
-- Name: claims claims_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.claims
    ADD CONSTRAINT claims_pkey PRIMARY KEY (name);


--
-- Name: contents contents_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.contents
    ADD CONSTRAINT contents_pkey PRIMARY KEY (sha256);


--
-- Name: instances instances_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.instances
    ADD CONSTRAINT instances_pkey PRIMARY KEY (id);


--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);


--
-- Name: uploads uploads_client_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.uploads
    ADD CONSTRAINT uploads_client_id_key UNIQUE (client_id);


--
-- Name: uploads uploads_download_token_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.uploads
    ADD CONSTRAINT uploads_download_token_key UNIQUE (download_token);


--
-- Name: uploads uploads_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.uploads
    ADD CONSTRAINT uploads_pkey PRIMARY KEY (id);


--
-- Name: claims_instance; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX claims_instance ON public.claims USING btree (instance);


--
-- Name: claims_upload; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX claims_upload ON public.claims USING btree (upload_id);


--
-- Name: contents_removing; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX contents_removing ON public.contents USING btree (state) WHERE (state = 'removing'::text);


--
-- Name: uploads_content; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX uploads_content ON public.uploads USING btree (content);


--
-- Name: uploads_expiry; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX uploads_expiry ON public.uploads USING btree (expires_at) WHERE (state = 'complete'::text);


--
-- Name: uploads_state; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX uploads_state ON public.uploads USING btree (state);


--
-- Name: chunks chunks_upload_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.chunks
    ADD CONSTRAINT chunks_upload_id_fkey FOREIGN KEY (upload_id) REFERENCES public.uploads(id) ON DELETE CASCADE;


--
-- Name: claims claims_upload_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.claims
    ADD CONSTRAINT claims_upload_id_fkey FOREIGN KEY (upload_id) REFERENCES public.uploads(id) ON DELETE CASCADE;


--
-- Name: uploads uploads_content_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.uploads
    ADD CONSTRAINT uploads_content_fkey FOREIGN KEY (content) REFERENCES public.contents(sha256);


--
-- PostgreSQL database dump complete
--


