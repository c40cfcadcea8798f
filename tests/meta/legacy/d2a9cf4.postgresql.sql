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
    freed_bytes bigint
);


--
-- Data for Name: chunks; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.chunks VALUES ('b71c09263083bcb184964ddd84bd0981', 0);


--
-- Data for Name: claims; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: instances; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: schema_migrations; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.schema_migrations VALUES (1, 'uploads', 1796215235.900058);
INSERT INTO public.schema_migrations VALUES (2, 'streams', 1796215235.9106302);
INSERT INTO public.schema_migrations VALUES (3, 'claims', 1796215235.968006);
INSERT INTO public.schema_migrations VALUES (4, 'expiry', 1796215235.9841566);


--
-- Data for Name: uploads; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.uploads VALUES ('45a71ae1fa76e2d1ff10b6889909c46a', NULL, '15b2b68456742441c998972f51a74459ae60e8593a4dc18f6bf9c4aa13e18b44', 'same.bin', '', 28000, 8388608, 1, 0, 'complete', 'b4c676b0567dd630382feee6dd57a8b697db31adb7a90d8458c5d6436dee746b', 'PwcOoRZDB3aSWo_CfbBDS2hh243z-MWg', '45a71ae1fa76e2d1ff10b6889909c46a', NULL, 1796215236.3314264, 1796215236.3561265, 'plain', 28000, NULL, NULL, 0, NULL, NULL, NULL, NULL);
INSERT INTO public.uploads VALUES ('3c2bc70aa647be557c9f9628a2de5ca3', NULL, '15b2b68456742441c998972f51a74459ae60e8593a4dc18f6bf9c4aa13e18b44', 'same-again.bin', '', 28000, 8388608, 1, 0, 'complete', 'b4c676b0567dd630382feee6dd57a8b697db31adb7a90d8458c5d6436dee746b', 'BnteQC2syHCAXgxli-dpLwcSh8-U8Yh8', '3c2bc70aa647be557c9f9628a2de5ca3', NULL, 1796215236.382036, 1796215236.404119, 'plain', 28000, NULL, NULL, 0, NULL, NULL, NULL, NULL);
INSERT INTO public.uploads VALUES ('ce1873bd4fdb8e10a38de876456fcda1', NULL, '15b2b68456742441c998972f51a74459ae60e8593a4dc18f6bf9c4aa13e18b44', 'other.bin', '', 29000, 8388608, 1, 0, 'complete', 'd55615e219c66e0dabfca29d438f7d5f8ea2663f544a7c714c328297f504b9ce', 'SWdK2uJXeEsX522aapyzGVN4of5o4R0B', 'ce1873bd4fdb8e10a38de876456fcda1', NULL, 1796215236.4133923, 1796215236.4324749, 'plain', 29000, NULL, NULL, 0, NULL, NULL, NULL, NULL);
INSERT INTO public.uploads VALUES ('b71c09263083bcb184964ddd84bd0981', '11111111-2222-3333-4444-555555555555', '15b2b68456742441c998972f51a74459ae60e8593a4dc18f6bf9c4aa13e18b44', 'half.bin', '', 28000, 16384, 2, 1, 'receiving', NULL, NULL, NULL, NULL, 1796215236.4372926, 1796215236.4414327, 'dropzone', 0, NULL, NULL, 0, NULL, NULL, NULL, NULL);


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
-- PostgreSQL database dump complete
--


