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
-- Name: accounts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.accounts (
    name text NOT NULL,
    password_hash text NOT NULL,
    admin boolean DEFAULT false NOT NULL,
    quota_bytes bigint,
    quota_uploads integer,
    created_at double precision NOT NULL
);


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
-- Name: tokens; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.tokens (
    digest text NOT NULL,
    account text NOT NULL,
    label text NOT NULL,
    created_at double precision NOT NULL,
    last_used double precision
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
    content text,
    address text,
    account text,
    relative_path text,
    download_password text,
    max_downloads integer,
    downloads integer DEFAULT 0 NOT NULL,
    delete_key text
);


--
-- Data for Name: accounts; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: chunks; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.chunks VALUES ('f78b8e70da09ddf5d65d76a255bf547c', 0);
INSERT INTO public.chunks VALUES ('ad7dfbcb46b19dd03d380ae74523020c', 0);
INSERT INTO public.chunks VALUES ('d3629430737b7fb1544075145c573e7d', 0);
INSERT INTO public.chunks VALUES ('4f3756227a9ebc910890914cca424155', 0);


--
-- Data for Name: claims; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: contents; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.contents VALUES ('b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee', 2200, 2, 'present');
INSERT INTO public.contents VALUES ('db74ec4dcb37693477e8d9950d69f21a7acc219deb4fcdb40084fcc8fa58ba0b', 600, 1, 'present');


--
-- Data for Name: instances; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: schema_migrations; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.schema_migrations VALUES (1, 'uploads', 1796281046.403739);
INSERT INTO public.schema_migrations VALUES (2, 'streams', 1796281046.4079232);
INSERT INTO public.schema_migrations VALUES (3, 'claims', 1796281046.4185195);
INSERT INTO public.schema_migrations VALUES (4, 'expiry', 1796281046.4205606);
INSERT INTO public.schema_migrations VALUES (5, 'contents', 1796281046.4275546);
INSERT INTO public.schema_migrations VALUES (6, 'access', 1796281046.4384584);


--
-- Data for Name: tokens; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: uploads; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.uploads VALUES ('4f3756227a9ebc910890914cca424155', '2614a033-dbcf-4437-963a-719cf8b43904', 'e04a7e627df92eb58614e7a8c0f3072f49b180d4301ad7166d356f8092561d88', 'half.bin', '', 2000, 1000, 2, 1, 'receiving', NULL, NULL, NULL, NULL, 1796281048.1292362, 1796281048.136569, 'dropzone', 0, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, '127.0.0.1', NULL, NULL, NULL, NULL, 0, 'BLG7HHp49uGj8lA_1XjUfPTWRNOR8-On');
INSERT INTO public.uploads VALUES ('f78b8e70da09ddf5d65d76a255bf547c', '7a0fc628-8a92-45cf-b064-ec07393a91de', 'e04a7e627df92eb58614e7a8c0f3072f49b180d4301ad7166d356f8092561d88', 'same.bin', '', 2200, 2200, 1, 1, 'complete', 'b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee', 'bEnr5yId_wUQRiwz2puiSLXTRg3-st5A', 'b9/cc/b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee', NULL, 1796281046.5596495, 1796281046.5886958, 'dropzone', 0, NULL, NULL, 0, NULL, NULL, NULL, NULL, 'b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee', '127.0.0.1', NULL, NULL, NULL, NULL, 0, '4C4R8asXxg_M0yk4xObcBc0PMS6Ne1Z3');
INSERT INTO public.uploads VALUES ('ad7dfbcb46b19dd03d380ae74523020c', 'ef8f496e-1322-4ab8-b4d8-6f5456d733af', 'e04a7e627df92eb58614e7a8c0f3072f49b180d4301ad7166d356f8092561d88', 'again.bin', '', 2200, 2200, 1, 1, 'complete', 'b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee', '9Yi5lxLaFbQULgVPHSJFfGBq1TEkonwv', 'b9/cc/b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee', NULL, 1796281047.0931182, 1796281047.1062818, 'dropzone', 0, NULL, NULL, 0, NULL, NULL, NULL, NULL, 'b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee', '127.0.0.1', NULL, NULL, NULL, NULL, 0, 'EOZy9_UhNkKmgiBoBib7t6TurrdefBtE');
INSERT INTO public.uploads VALUES ('d3629430737b7fb1544075145c573e7d', 'ee24a75a-3d9a-4ae7-96af-da967c9d06c4', 'e04a7e627df92eb58614e7a8c0f3072f49b180d4301ad7166d356f8092561d88', 'other.bin', '', 600, 600, 1, 1, 'complete', 'db74ec4dcb37693477e8d9950d69f21a7acc219deb4fcdb40084fcc8fa58ba0b', 'w5Pu7mh-q5lM1oP-_WFJZcMrm-QrBhYZ', 'db/74/db74ec4dcb37693477e8d9950d69f21a7acc219deb4fcdb40084fcc8fa58ba0b', NULL, 1796281047.613558, 1796281047.6250048, 'dropzone', 0, NULL, NULL, 0, NULL, NULL, NULL, NULL, 'db74ec4dcb37693477e8d9950d69f21a7acc219deb4fcdb40084fcc8fa58ba0b', '127.0.0.1', NULL, NULL, NULL, NULL, 0, 'NQ5qx3NJqnhyI1NPuI0JlvTrp3g1NQjx');


--
-- Name: accounts accounts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.accounts
    ADD CONSTRAINT accounts_pkey PRIMARY KEY (name);


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
-- Name: tokens tokens_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tokens
    ADD CONSTRAINT tokens_pkey PRIMARY KEY (digest);


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
-- Name: tokens_account; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX tokens_account ON public.tokens USING btree (account);


--
-- Name: uploads_account; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX uploads_account ON public.uploads USING btree (account, state);


--
-- Name: uploads_content; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX uploads_content ON public.uploads USING btree (content);


--
-- Name: uploads_expiry; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX uploads_expiry ON public.uploads USING btree (expires_at) WHERE (state = 'complete'::text);


--
-- Name: uploads_open_address; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX uploads_open_address ON public.uploads USING btree (address) WHERE (state = 'receiving'::text);


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
-- Name: tokens tokens_account_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tokens
    ADD CONSTRAINT tokens_account_fkey FOREIGN KEY (account) REFERENCES public.accounts(name) ON DELETE CASCADE;


--
-- Name: uploads uploads_content_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.uploads
    ADD CONSTRAINT uploads_content_fkey FOREIGN KEY (content) REFERENCES public.contents(sha256);


--
-- PostgreSQL database dump complete
--


